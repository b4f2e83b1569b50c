#include "metrics/tally.hpp"

namespace ovl::metrics {

std::string_view phaseName(Phase p) {
  switch (p) {
    case Phase::Ipam: return "ipam";
    case Phase::Store: return "store";
    case Phase::Nft: return "nftables";
    case Phase::Count_: break;
  }
  return "unknown";
}

Tally& tally() {
  static Tally t;
  return t;
}

PhaseTimer::~PhaseTimer() {
  auto& t = tally();
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_);
  t.spentNs[size_t(phase_)].fetch_add(ns.count(), std::memory_order_relaxed);
  t.entered[size_t(phase_)].store(true, std::memory_order_relaxed);
}

}  // namespace ovl::metrics
