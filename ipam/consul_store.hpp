// Leases in Consul, cluster-wide. Key layout under the client's prefix (default "overlay-cni"):
//   <prefix>/ipam/<pool>/leases/<ip>                    {"containerID","ifname","host","time"}
//   <prefix>/ipam/<pool>/owners/<containerID>/<ifname>  ["10.0.0.2","fd00::2"]  (the attachment's index)
//   <prefix>/ipam/<pool>/cursor/<N>                     "10.0.0.2": last address handed out in range set N
// A lease and its owner index are created in one transaction, each only if absent (cas index 0), so
// both exist or neither; they share one ModifyIndex, which deletes use (delete-cas). No global lock.
// ADD in the common case: one read of the cursors, one transaction; no listing.
#pragma once

#include <memory>
#include <string>

#include "kv/consul.hpp"
#include "lease_store.hpp"

namespace ovl::ipam {

class ConsulStore : public LeaseStore {
 public:
  ConsulStore(std::shared_ptr<kv::ConsulClient> client, const std::string& pool);

  bool shared() const override { return true; }
  Result<std::vector<std::optional<IpAddr>>> cursors(size_t n) override;
  Result<ReserveOutcome> reserve(std::span<const Claim> claims, const Owner& owner) override;
  Result<std::vector<IpAddr>> findByOwner(std::string_view containerId, std::string_view ifName) override;
  Result<std::optional<Owner>> findLease(const IpAddr& ip) override;
  Result<void> releaseByOwner(std::string_view containerId, std::string_view ifName) override;
  Result<std::vector<Lease>> listLeases() override;
  Result<std::vector<IpAddr>> listLeasedIps() override;
  Result<void> releaseLeases(std::span<const Lease> leases) override;
  Result<void> ping() override;
  std::string describe() const override;

  std::string leaseKey(const IpAddr& ip) const { return base_ + "/leases/" + ip.str(); }
  std::string ownerKey(std::string_view containerId, std::string_view ifName) const;
  std::string cursorKey(size_t set) const { return base_ + "/cursor/" + std::to_string(set); }

 private:
  std::string addresses() const;
  Result<std::optional<kv::KvPair>> getOwner(std::string_view containerId, std::string_view ifName);
  Result<bool> deleteOwnerAndLeases(const std::string& ownerKey, uint64_t ownerIndex,
                                    const std::vector<std::pair<std::string, uint64_t>>& leases);

  std::shared_ptr<kv::ConsulClient> client_;
  std::string pool_;
  std::string base_;  // <prefix>/ipam/<pool>
};

}  // namespace ovl::ipam
