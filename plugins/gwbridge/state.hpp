// gwbridge's files in the host's stateDir (<stateDir>/ns-<netns inode>/gwbridge/, the node config's stateDir,
// else /run/overlay-cni): the lock that orders the creation and removal of a bridge's rules against ADDs on
// it, and one record per attachment (whose port mappings it put in the maps, and its addresses), which DEL
// and GC read so that neither needs to list nftables.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gwbridge/rules.hpp"
#include "util/error.hpp"
#include "util/unique_fd.hpp"

namespace ovl::gwbridge {

// This host's gwbridge directory (created on first use).
Result<std::string> gwStateDir();

// A flock on <gwStateDir>/bridges.lock for the scope. ADDs hold it shared from finding their bridge's
// rules until their port is on the bridge; whoever creates or removes a bridge's rules holds it exclusive.
class BridgeLock {
 public:
  static Result<BridgeLock> shared();
  static Result<BridgeLock> exclusive();
  void unlock() { fd_.reset(); }

 private:
  explicit BridgeLock(UniqueFd fd) : fd_(std::move(fd)) {}
  static Result<BridgeLock> take(int op);
  UniqueFd fd_;
};

// What ADD left for one attachment: its bridge, addresses, port mappings and the elements they became.
struct AttachmentRecord {
  std::string network, containerId, ifName, bridge;
  std::vector<IpNet> addrs;
  std::vector<PortMapping> ports;
  std::vector<Element> elements;
};

// <gwStateDir>/<network>/<host veth>.json, written atomically.
Result<void> writeRecord(const AttachmentRecord& r);
// nullopt when there is none (one that cannot be read is logged and counts as none).
std::optional<AttachmentRecord> readRecord(std::string_view network, std::string_view containerId,
                                           std::string_view ifName);
// Absent is success.
Result<void> removeRecord(std::string_view network, std::string_view containerId, std::string_view ifName);
// Every record of the network on this host.
std::vector<AttachmentRecord> listRecords(std::string_view network);

}  // namespace ovl::gwbridge
