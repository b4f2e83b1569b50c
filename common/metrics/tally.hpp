// What one plugin process spent its call on, by phase, and how many store requests it made: accumulated
// here by RAII timers at the natural boundaries (IPAM exec, store round trips, nftables), and written to the
// host's metrics file (metrics/recorder.hpp) once the call is done. Process-global on purpose: a plugin
// process serves one call. Long-lived processes (the watcher) accumulate and never flush; it costs nothing.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace ovl::metrics {

enum class Phase { Ipam, Store, Nft, Netlink, Count_ };
inline constexpr size_t kPhases = size_t(Phase::Count_);

std::string_view phaseName(Phase p);

// Atomic (relaxed) because the watcher's metrics thread may talk to the store too.
struct Tally {
  std::array<std::atomic<int64_t>, kPhases> spentNs{};
  std::array<std::atomic<bool>, kPhases> entered{};
  std::atomic<uint64_t> storeRequests{0};
  std::atomic<uint64_t> casConflicts{0};  // a cas or delete-cas that lost its race (the caller retries)
};

Tally& tally();
inline void countStoreRequest() { tally().storeRequests.fetch_add(1, std::memory_order_relaxed); }
inline void countCasConflict() { tally().casConflicts.fetch_add(1, std::memory_order_relaxed); }

// A nested plugin call run in this process (cni/delegate.hpp) records its own call: while this lives the tally
// is empty for it, and the caller's figures are back afterwards, as if the nested call had been a child process.
class NestedTally {
 public:
  NestedTally();
  ~NestedTally();
  NestedTally(const NestedTally&) = delete;
  NestedTally& operator=(const NestedTally&) = delete;

 private:
  std::array<int64_t, kPhases> spentNs_{};
  std::array<bool, kPhases> entered_{};
  uint64_t storeRequests_ = 0, casConflicts_ = 0;
};

// Adds the time between its construction and destruction to its phase; a timer inside another of the same
// phase (on the same thread) adds nothing, so layered calls count once.
class PhaseTimer {
 public:
  explicit PhaseTimer(Phase p);
  ~PhaseTimer();
  PhaseTimer(const PhaseTimer&) = delete;
  PhaseTimer& operator=(const PhaseTimer&) = delete;

 private:
  Phase phase_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace ovl::metrics
