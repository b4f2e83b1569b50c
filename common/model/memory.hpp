// What a host remembers of the records it holds in the store, so that it can put them back when the
// store forgets (a Consul server restarted empty, or replaced). One file per attachment, written after
// the record is committed and removed with it:
//   <stateDir>/ns-<netns inode>/memory/att-<hash>.json    {"attachment":..., "member":..., "definition":...}
//   <stateDir>/ns-<netns inode>/memory/lease-<hash>.json  {"pool":..., "lease":..., "ips":[...]}
//   <stateDir>/ns-<netns inode>/memory/withdraw-<hash>.json {"network","containerID","ifname"}: to delete
//   <stateDir>/ns-<netns inode>/memory/cluster-id          the id of the store this host last saw (P/cluster)
//   <stateDir>/ns-<netns inode>/memory/claim               the claim on P/hosts/<host> confirmed in that store
// Files are 0600 in 0700 directories. The netns inode keeps simulated hosts that share /run apart.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/network.hpp"
#include "model/records.hpp"
#include "util/error.hpp"

namespace ovl::model {

struct RememberedAttachment {
  Attachment attachment;
  Member member;
  std::optional<NetworkDef> definition;  // as this host last read it
};

// A record this host must delete from the store but could not (the store was unreachable during DEL): the
// attachment (containerId, ifName), or, with both empty, this host's membership of the network.
struct PendingWithdrawal {
  std::string network, containerId, ifName;
  bool operator==(const PendingWithdrawal&) const = default;
};

struct RememberedLeases {
  std::string pool;
  Lease lease;  // holder: this host
  std::vector<IpAddr> ips;
};

// <stateDir>/ns-<inode of this thread's netns>, created 0700.
Result<std::string> hostStateDir(const std::string& stateDir);

class HostMemory {
 public:
  static Result<HostMemory> open(const std::string& stateDir);

  // Writes are atomic (rename) and idempotent; forgetting what is not remembered is success.
  Result<void> remember(const RememberedAttachment& a);
  Result<void> remember(const RememberedLeases& l);
  void forgetAttachment(std::string_view net, std::string_view cid, std::string_view ifName);
  void forgetLeases(std::string_view pool, std::string_view cid, std::string_view ifName);

  // Everything remembered; unreadable files are skipped with a warning.
  std::vector<RememberedAttachment> attachments() const;
  std::vector<RememberedLeases> leases() const;

  Result<void> remember(const PendingWithdrawal& w);
  void forget(const PendingWithdrawal& w);
  std::vector<PendingWithdrawal> withdrawals() const;

  std::string clusterId() const;
  void setClusterId(std::string_view id);
  // This host's claim on its name (identity.hpp), as last confirmed: an opaque token.
  std::string claim() const;
  void setClaim(std::string_view token);

  const std::string& dir() const { return dir_; }

 private:
  explicit HostMemory(std::string dir) : dir_(std::move(dir)) {}
  std::string readLine(const char* name) const;
  void writeLine(const char* name, std::string_view line);
  std::string dir_;
};

}  // namespace ovl::model
