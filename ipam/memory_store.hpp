// An in-memory LeaseStore for allocator tests: no files, no server. It can pretend to be shared and
// let a test play a competing host just before each reserve.
#pragma once

#include <functional>
#include <map>
#include <utility>

#include "ipam/lease_store.hpp"

namespace ovl::ipam {

class MemoryStore : public LeaseStore {
 public:
  explicit MemoryStore(bool shared = false) : shared_(shared) {}

  bool shared() const override { return shared_; }
  Result<std::vector<std::optional<IpAddr>>> cursors(size_t n) override;
  Result<ReserveOutcome> reserve(std::span<const Claim> claims, const Owner& owner) override;
  Result<std::vector<IpAddr>> findByOwner(std::string_view containerId, std::string_view ifName) override;
  Result<std::optional<Owner>> findLease(const IpAddr& ip) override;
  Result<void> releaseByOwner(std::string_view containerId, std::string_view ifName) override;
  Result<std::vector<Lease>> listLeases() override;
  Result<std::vector<IpAddr>> listLeasedIps() override;
  Result<void> releaseLeases(std::span<const Lease> leases) override;
  Result<void> ping() override;
  std::string describe() const override { return "memory store"; }

  // Test hooks.
  std::function<void(std::span<const Claim>)> beforeReserve;  // e.g. a competitor takes an address
  bool unreachable = false;                                   // every call fails with TryAgainLater
  int reserveCalls = 0;
  int listCalls = 0;  // listLeasedIps
  void put(const IpAddr& ip, const Owner& owner);  // a lease taken behind the allocator's back
  void setCursor(size_t rangeSet, const IpAddr& ip);
  size_t size() const { return leases_.size(); }

 private:
  using Key = std::pair<std::string, std::string>;
  Result<void> reachable() const;

  bool shared_;
  std::map<IpAddr, Lease> leases_;
  std::map<Key, std::vector<IpAddr>> owners_;
  std::map<size_t, IpAddr> cursors_;
};

}  // namespace ovl::ipam
