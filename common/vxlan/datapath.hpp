// Host-side kernel state of an overlay network: the underlay (VTEP), the VXLAN device and bridge, the
// flood list, and the per-host lock that serializes creating and tearing them down.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/records.hpp"
#include "nl/link.hpp"
#include "nl/socket.hpp"
#include "util/error.hpp"
#include "util/unique_fd.hpp"

namespace ovl::vxlan {

struct Underlay {
  IpAddr vtep;
  int ifindex = 0;
  std::string ifName;
  unsigned mtu = 0;
};

// Resolves `advertise` (interface name, address, or the default-route interface when absent).
Result<Underlay> resolveUnderlay(nl::Socket& s, const std::optional<std::string>& advertise);

struct NetDevices {
  nl::LinkInfo bridge;
  nl::LinkInfo vxlan;
};

// Creates or verifies the bridge and the VXLAN device (enslaved to it), idempotently.
Result<NetDevices> ensureNetDevices(nl::Socket& s, uint32_t vni, const Underlay& u, uint16_t port, unsigned mtu);
Result<std::optional<NetDevices>> findNetDevices(nl::Socket& s, uint32_t vni);

// Makes the VXLAN flood list (all-zero MAC entries) hold the VTEPs of the other members. AddOnly leaves
// entries of hosts missing from `members` alone: an ADD's member list was read before its IPAM call and
// may be older than what the watcher (which removes departed hosts, FloodSync::Exact) has applied.
enum class FloodSync { AddOnly, Exact };
Result<void> reconcileFlood(nl::Socket& s, int vxlanIndex, const IpAddr& self, const std::vector<model::Member>& members,
                            FloodSync sync);

// Number of bridge ports other than the VXLAN device.
Result<int> countContainerPorts(nl::Socket& s, const NetDevices& d);
// Deletes bridge and VXLAN device (absent is fine).
Result<void> deleteNetDevices(nl::Socket& s, uint32_t vni);

// An exclusive flock held for the scope, keyed by this host's netns and the network, so that the
// simulated hosts of a test (which share /run) do not serialize on each other.
class HostLock {
 public:
  static Result<HostLock> acquire(const std::string& stateDir, const std::string& network);

 private:
  explicit HostLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace ovl::vxlan
