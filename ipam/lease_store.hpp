// Where leases live, as seen by the allocator. Three implementations: MemoryStore (tests), FileStore
// (host-local's on-disk layout, one host) and ConsulStore (cluster-wide). The allocation policy is in
// allocator.hpp and knows nothing of files or HTTP.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::ipam {

// Who holds a lease: the attachment (container ID, interface name), the host it runs on, and when.
struct Owner {
  std::string containerId;
  std::string ifName;
  std::string host;
  std::string time;  // RFC 3339, UTC
  std::string network;  // the CNI network the attachment belongs to ("" in the file store: one network per pool)
  bool sameAttachment(const Owner& o) const { return containerId == o.containerId && ifName == o.ifName; }
  std::string str() const;  // "container c1 (eth0) on host h1"
};

struct Lease {
  IpAddr ip;
  Owner owner;
  uint64_t version = 0;  // store-specific token for conditional deletes (consul ModifyIndex), 0 if none
};

// One address to take, for range set `rangeSet` (its cursor moves to it on success).
struct Claim {
  IpAddr ip;
  size_t rangeSet = 0;
  int prefix = 0;  // of the range holding ip (what the result's address carries)
};

struct ReserveOutcome {
  bool reserved = false;        // every claim is now leased to the owner, and the cursors moved
  bool ownerHasLeases = false;  // nothing written: the attachment already holds leases in this pool
  std::vector<size_t> taken;    // nothing written: indexes of claims whose address is leased already
};

class LeaseStore {
 public:
  virtual ~LeaseStore() = default;

  // Called once before anything else in a call. The file store takes host-local's lock here, for
  // the lifetime of the store object; the others have no global lock.
  virtual Result<void> lock() { return {}; }
  // Other hosts allocate from the same pool at the same time (consul): after a lost race the
  // allocator spreads its next candidates rather than probing one address after another.
  virtual bool shared() const = 0;

  // The last address handed out in each of `n` range sets (nullopt: none yet).
  virtual Result<std::vector<std::optional<IpAddr>>> cursors(size_t n) = 0;
  // Leases every claim to `owner` and records the attachment's index, all or nothing; an address is
  // created only if absent. On success the cursors of the claims' range sets move to them.
  virtual Result<ReserveOutcome> reserve(std::span<const Claim> claims, const Owner& owner) = 0;
  // The addresses leased to an attachment, from its index (no scan of the pool).
  virtual Result<std::vector<IpAddr>> findByOwner(std::string_view containerId, std::string_view ifName) = 0;
  virtual Result<std::optional<Owner>> findLease(const IpAddr& ip) = 0;
  // Releases every lease of the attachment. Nothing held: success.
  virtual Result<void> releaseByOwner(std::string_view containerId, std::string_view ifName) = 0;

  // The whole pool (GC, STATUS, and the allocator after a lost race in a shared store): the cost
  // grows with the number of leases, so ADD and DEL do not call these in the common case.
  virtual Result<std::vector<Lease>> listLeases() = 0;
  virtual Result<std::vector<IpAddr>> listLeasedIps() = 0;
  // Releases these leases (from listLeases) if they are still held as listed, with their indexes.
  virtual Result<void> releaseLeases(std::span<const Lease> leases) = 0;

  // The store answers (STATUS).
  virtual Result<void> ping() = 0;
  // "consul at http://..." or "file store /var/lib/cni/networks/net1", for messages.
  virtual std::string describe() const = 0;
};

// RFC 3339 UTC timestamp of now, e.g. "2024-05-01T12:00:00Z".
std::string nowRfc3339();

}  // namespace ovl::ipam
