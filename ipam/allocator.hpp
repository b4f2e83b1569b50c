// Allocation policy, apart from storage: host-local's order (after the last address handed out,
// wrapping, skipping gateways and addresses in use, so freed addresses come back last), static
// addresses, all range sets leased at once or not at all, and an idempotent ADD.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "cni/result.hpp"
#include "ipam/lease_store.hpp"
#include "ipam/range_set.hpp"

namespace ovl::ipam {

struct Allocation {
  std::vector<cni::IpConfig> ips;  // one per range set, in order
  bool existing = false;           // the attachment held these already (a repeated ADD)
  int attempts = 0;                // reserve calls it took: 1 unless it lost a race or met a lease
};

class Allocator {
 public:
  // A shared store gives up after this many lost races, or this long, whichever comes first (code 11).
  static constexpr int kMaxSharedAttempts = 24;
  // Lost races in a shared store retried with a guess near the cursor before the leases are listed.
  static constexpr int kGuessedRetries = 2;
  static constexpr std::chrono::seconds kSharedBudget{10};

  Allocator(const std::vector<RangeSet>& sets, LeaseStore& store, uint64_t seed);

  // Leases one address per range set to `owner`. `requested` are static addresses: each must lie in a
  // range and not be a gateway (code 7), and must be free (code 101, naming the holder).
  Result<Allocation> allocate(const Owner& owner, std::span<const IpAddr> requested);

  // The static addresses sorted into their range sets; errors (code 7) as allocate() reports them.
  // Needs no store, so ADD checks a request before it touches one.
  using Statics = std::vector<std::optional<IpAddr>>;
  static Result<Statics> assignRequested(const std::vector<RangeSet>& sets, std::span<const IpAddr> requested);

  // After allocate() failed: whether a reservation itself failed, so that it may have been stored anyway
  // (a transaction whose answer was lost). Failures before any reservation, or with one refused, store nothing.
  bool reserveFailed() const { return reserveFailed_; }

 private:
  Result<Allocation> existing(const Owner& owner, const Statics& statics);
  std::unexpected<Error> inUse(const IpAddr& ip);
  std::unexpected<Error> exhausted(size_t set) const;
  cni::IpConfig ipConfig(size_t set, const IpAddr& ip) const;
  Claim claimOf(size_t set, const IpAddr& ip) const;
  // After a lost race in a shared store: a random free address among the first few after the cursor,
  // the window doubling with each attempt, so competing hosts stop choosing the same one.
  std::optional<IpAddr> spread(size_t set, const std::optional<IpAddr>& cursor, int attempt);

  const std::vector<RangeSet>& sets_;
  LeaseStore& store_;
  std::mt19937_64 rng_;
  std::vector<IpAddr> leased_;              // sorted, from the last listing (shared stores)
  std::vector<std::vector<IpAddr>> tried_;  // per range set, addresses found taken
  bool reserveFailed_ = false;
};

}  // namespace ovl::ipam
