// Remote containers answered without flooding (what Docker's overlay did with its static peer entries).
// For every container of the network on another host, from the attachment records:
//   ip neigh replace IP lladdr MAC dev ovbr-<vni> nud permanent        (the bridge answers ARP/ND for it)
//   bridge fdb replace MAC dev ovx-<vni> master static                  (the bridge knows it is behind VXLAN)
//   bridge fdb replace MAC dev ovx-<vni> dst VTEP self permanent        (VXLAN sends it to its host)
// and neigh_suppress on the VXLAN port: an ARP request or neighbour solicitation for a known remote address
// is answered on this host; one for an address not known yet (a record the watcher has not seen) is still
// flooded. Only `overlay watch` keeps these: without a watcher nothing would remove an entry whose container
// left, so suppression is turned off and the entries removed when the watcher stops (clearPeers).
#pragma once

#include <vector>

#include "nl/socket.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"
#include "vxlan/datapath.hpp"

namespace ovl::vxlan {

struct Peer {
  IpAddr ip;
  MacAddr mac;
  IpAddr vtep;
  bool operator==(const Peer&) const = default;
};

struct PeerSync {
  int added = 0, removed = 0;
};

// Makes the three kinds of entries hold exactly `peers` (ours are the permanent neighbours on the bridge and
// the static or permanent unicast FDB entries of the VXLAN port; learned ones are left alone) and turns
// neigh_suppress on. Call under the network's HostLock.
Result<PeerSync> syncPeers(nl::Socket& s, const NetDevices& d, const std::vector<Peer>& peers);
// Changes the entries that held `before` (as syncPeers or this left them) to hold `after`, touching only
// the peers that differ and reading nothing back: the watcher's step for one change of a network's attachments.
// What someone else changed in between is repaired by the next syncPeers. Call under the network's HostLock.
Result<PeerSync> applyPeerChanges(nl::Socket& s, const NetDevices& d, const std::vector<Peer>& before,
                                  const std::vector<Peer>& after);
// Turns neigh_suppress off and removes our entries (the watcher stops).
Result<void> clearPeers(nl::Socket& s, const NetDevices& d);

}  // namespace ovl::vxlan
