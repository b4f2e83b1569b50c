// Leases in Consul, cluster-wide (keys and records: common/model/). A lease and its owner index are
// created in one transaction, each only if absent (cas index 0), so both exist or neither; they share one
// ModifyIndex, which deletes use (delete-cas). The owner index is keyed by host: container IDs repeat
// across hosts, and a host reads and frees only its own. No global lock.
// ADD in the common case: one read of the cursors, one transaction; no listing.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "ipam/lease_store.hpp"
#include "kv/consul.hpp"
#include "model/keys.hpp"

namespace ovl::ipam {

class ConsulStore : public LeaseStore {
 public:
  ConsulStore(std::shared_ptr<kv::ConsulClient> client, const std::string& pool, const std::string& host);

  // Called with P/cluster as read in the same round trip as the cursors, before the first allocation of a
  // call (model/restore.hpp: the store must remember what the hosts hold before anything new is handed out).
  using MarkerCheck = std::function<Result<void>(const std::optional<kv::KvPair>& marker)>;
  void checkMarkerWithCursors(MarkerCheck check) { markerCheck_ = std::move(check); }

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

  std::string leaseKey(const IpAddr& ip) const { return keys_.lease(pool_, ip.str()); }
  // This host's index of an attachment's leases.
  std::string ownerKey(std::string_view containerId, std::string_view ifName) const {
    return keys_.owner(pool_, host_, containerId, ifName);
  }
  std::string cursorKey(size_t set) const { return keys_.cursor(pool_, set); }

 private:
  std::string addresses() const;
  Result<std::optional<kv::KvPair>> getOwner(std::string_view containerId, std::string_view ifName);
  Result<bool> deleteOwnerAndLeases(const std::string& ownerKey, uint64_t ownerIndex,
                                    const std::vector<std::pair<std::string, uint64_t>>& leases);

  std::shared_ptr<kv::ConsulClient> client_;
  model::Keys keys_;
  std::string pool_;
  std::string host_;
  MarkerCheck markerCheck_;
};

// What ConsulStore::cursors reads for n range sets of `pool`: the cursors, then P/cluster (model/read_ahead.hpp).
std::vector<std::string> cursorReadKeys(const model::Keys& keys, std::string_view pool, size_t n);

}  // namespace ovl::ipam
