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

#include <cstdint>
#include <deque>
#include <map>
#include <utility>
#include <vector>

#include "nl/socket.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"
#include "util/unique_fd.hpp"
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

// Tells this host's containers that a remote address now has another MAC: a gratuitous ARP from the bridge
// (it reaches only local ports; with neigh_suppress the bridge keeps a container's own announcement from the
// VXLAN port), since their caches may hold the address under the MAC of a container that left. An address
// new to this watcher needs no word: a container here could only have learned it by ARP, which now answers
// with the current MAC. Sending one per new peer cost the watchers about an eighth of their CPU at 25 hosts
// (each local container's kernel processes every broadcast; docs/scale.md 4i). Remembers the last kRemembered addresses removed, per
// bridge, and keeps one send-only socket (closing a packet socket waits for an RCU grace period, 10-17 ms).
class Announcer {
 public:
  static constexpr size_t kRemembered = 65536;
  // Sends from a socket in the calling thread's network namespace: the bridges'.
  static Result<Announcer> open();
  Announcer() = default;  // remembers, sends nothing
  // The entry for `ip` (last at `mac`) left the bridge `bridge`.
  void removed(int bridge, const IpAddr& ip, const MacAddr& mac);
  // The entry for `ip` now says `mac`: announces it when `always`, or when the address was removed with
  // another MAC since. Failures to send are logged, not returned: the entries are what matters.
  void added(int bridge, const IpAddr& ip, const MacAddr& mac, bool always);
  uint64_t sent() const { return sent_; }               // gratuitous ARPs sent, for tests and logs
  size_t remembered() const { return removed_.size(); }  // removals not yet announced or forgotten

 private:
  using Key = std::pair<int, IpAddr>;
  UniqueFd socket_;
  std::map<Key, std::pair<MacAddr, uint64_t>> removed_;  // the MAC, and which removal it was
  std::deque<std::pair<Key, uint64_t>> order_;            // removals, oldest first
  uint64_t removals_ = 0, sent_ = 0;
};

// Makes the three kinds of entries hold exactly `peers` (ours are the permanent neighbours on the bridge and
// the static or permanent unicast FDB entries of the VXLAN port; learned ones are left alone) and turns
// neigh_suppress on. Call under the network's HostLock.
// Every neighbour entry it adds or changes is announced to this host's containers.
Result<PeerSync> syncPeers(nl::Socket& s, const NetDevices& d, const std::vector<Peer>& peers, Announcer& say);
// Changes the entries that held `before` (as syncPeers or this left them) to hold `after`, touching only
// the peers that differ and reading nothing back: the watcher's step for one change of a network's attachments.
// What someone else changed in between is repaired by the next syncPeers. Call under the network's HostLock.
// An address is announced when its MAC changed here or since it was last removed (Announcer).
Result<PeerSync> applyPeerChanges(nl::Socket& s, const NetDevices& d, const std::vector<Peer>& before,
                                  const std::vector<Peer>& after, Announcer& say);
// Turns neigh_suppress off and removes our entries (the watcher stops).
Result<void> clearPeers(nl::Socket& s, const NetDevices& d);

}  // namespace ovl::vxlan
