#include "metrics/tally.hpp"

namespace ovl::metrics {

std::string_view phaseName(Phase p) {
  switch (p) {
    case Phase::Ipam: return "ipam";
    case Phase::Store: return "store";
    case Phase::Nft: return "nftables";
    case Phase::Netlink: return "netlink";
    case Phase::Count_: break;
  }
  return "unknown";
}

namespace {
thread_local std::array<int, kPhases> depth{};
}  // namespace

PhaseTimer::PhaseTimer(Phase p) : phase_(p), start_(std::chrono::steady_clock::now()) { ++depth[size_t(p)]; }

Tally& tally() {
  static Tally t;
  return t;
}

NestedTally::NestedTally() {
  auto& t = tally();
  for (size_t i = 0; i < kPhases; ++i) {
    spentNs_[i] = t.spentNs[i].exchange(0);
    entered_[i] = t.entered[i].exchange(false);
  }
  storeRequests_ = t.storeRequests.exchange(0);
  casConflicts_ = t.casConflicts.exchange(0);
}

NestedTally::~NestedTally() {
  auto& t = tally();
  for (size_t i = 0; i < kPhases; ++i) {
    t.spentNs[i].store(spentNs_[i]);
    t.entered[i].store(entered_[i]);
  }
  t.storeRequests.store(storeRequests_);
  t.casConflicts.store(casConflicts_);
}

PhaseTimer::~PhaseTimer() {
  if (--depth[size_t(phase_)] > 0) return;
  auto& t = tally();
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_);
  t.spentNs[size_t(phase_)].fetch_add(ns.count(), std::memory_order_relaxed);
  t.entered[size_t(phase_)].store(true, std::memory_order_relaxed);
}

}  // namespace ovl::metrics
