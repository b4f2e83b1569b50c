#include "vxlan/peers.hpp"

#include <linux/neighbour.h>

#include <map>
#include <optional>
#include <set>

#include "nl/bridge.hpp"
#include "nl/fdb.hpp"
#include "nl/garp.hpp"
#include "nl/neigh.hpp"
#include "util/log.hpp"

namespace ovl::vxlan {
namespace {

// Our unicast entries on the VXLAN port: the bridge's static ones (master) and the device's permanent ones
// (self). Learned entries (reachable, stale) and the port's own address (the bridge's permanent entry) are not.
// The bridge's entries carry NDA_MASTER (its index); the VXLAN device's own do not.
bool oursMaster(const nl::FdbEntry& e, const NetDevices& d) {
  return e.master == d.bridge.index && !e.mac.isZero() && e.state == NUD_NOARP;
}
bool oursSelf(const nl::FdbEntry& e) {
  return e.master == 0 && !e.mac.isZero() && e.dst && (e.state & NUD_PERMANENT);
}

Result<PeerSync> syncEntries(nl::Socket& s, const NetDevices& d, const std::vector<Peer>& peers, Announcer& say) {
  PeerSync out;
  std::map<IpAddr, MacAddr> ipToMac;
  std::map<MacAddr, IpAddr> macToVtep;
  for (const auto& p : peers) {
    ipToMac[p.ip] = p.mac;
    macToVtep[p.mac] = p.vtep;
  }
  // Where each MAC is first, then who has which address: a reply names a MAC the bridge can already place.
  std::map<MacAddr, IpAddr> selfHave;
  std::set<MacAddr> masterHave;
  for (const auto& e : TRY(nl::dumpFdb(s, d.vxlan.index))) {
    if (oursMaster(e, d)) {
      if (macToVtep.count(e.mac)) {
        masterHave.insert(e.mac);
      } else {
        TRY_VOID(nl::deleteMasterFdb(s, d.vxlan.index, e.mac));
      }
    } else if (oursSelf(e)) {
      auto want = macToVtep.find(e.mac);
      if (want != macToVtep.end() && want->second == *e.dst) {
        selfHave[e.mac] = *e.dst;
      } else if (want == macToVtep.end()) {
        TRY_VOID(nl::deleteFdb(s, d.vxlan.index, e.mac, *e.dst));
        ++out.removed;
      }
    }
  }
  for (const auto& [mac, vtep] : macToVtep) {
    if (!selfHave.count(mac)) {
      TRY_VOID(nl::replaceFdb(s, d.vxlan.index, mac, vtep));
      ++out.added;
    }
    if (!masterHave.count(mac)) TRY_VOID(nl::replaceMasterFdb(s, d.vxlan.index, mac));
  }
  std::map<IpAddr, MacAddr> neighHave;
  for (const auto& n : TRY(nl::dumpNeighs(s, d.bridge.index))) {
    if (!(n.state & NUD_PERMANENT)) continue;
    auto want = ipToMac.find(n.ip);
    if (want != ipToMac.end() && want->second == n.mac) {
      neighHave[n.ip] = n.mac;
    } else if (want == ipToMac.end()) {
      TRY_VOID(nl::deleteNeigh(s, d.bridge.index, n.ip));
      say.removed(d.bridge.index, n.ip, n.mac);
    }
  }
  for (const auto& [ip, mac] : ipToMac) {
    if (neighHave.count(ip)) continue;
    TRY_VOID(nl::addNeigh(s, d.bridge.index, ip, mac, true));
    // A full pass runs at start and after something went wrong: what the kernel held before is unknown.
    say.added(d.bridge.index, ip, mac, true);
  }
  return out;
}

}  // namespace

void Announcer::removed(int bridge, const IpAddr& ip, const MacAddr& mac) {
  const Key k{bridge, ip};
  removed_[k] = {mac, ++removals_};
  order_.push_back({k, removals_});
  for (; order_.size() > kRemembered; order_.pop_front())  // the oldest, unless removed again since
    if (auto it = removed_.find(order_.front().first); it != removed_.end() && it->second.second == order_.front().second)
      removed_.erase(it);
}

Result<Announcer> Announcer::open() {
  Announcer a;
  a.socket_ = TRY(nl::openArpSocket());
  return a;
}

void Announcer::added(int bridge, const IpAddr& ip, const MacAddr& mac, bool always) {
  bool moved = always;
  if (auto it = removed_.find({bridge, ip}); it != removed_.end()) {
    moved = moved || !(it->second.first == mac);
    removed_.erase(it);
  }
  if (!moved || !ip.isV4() || !socket_) return;
  if (auto g = nl::sendGratuitousArp(socket_.get(), bridge, mac, ip); !g)
    log::warn("announcing " + ip.str() + " to this host's containers: " + g.error().msg);
  else
    ++sent_;
}

Result<PeerSync> applyPeerChanges(nl::Socket& s, const NetDevices& d, const std::vector<Peer>& before,
                                  const std::vector<Peer>& after, Announcer& say) {
  PeerSync out;
  std::map<IpAddr, MacAddr> ipsBefore, ipsAfter;
  std::map<MacAddr, IpAddr> macsBefore, macsAfter;
  for (const auto& p : before) ipsBefore[p.ip] = p.mac, macsBefore[p.mac] = p.vtep;
  for (const auto& p : after) ipsAfter[p.ip] = p.mac, macsAfter[p.mac] = p.vtep;
  // Addresses first: a reply must not name a MAC whose FDB entries are gone.
  for (const auto& [ip, mac] : ipsBefore) {
    if (ipsAfter.count(ip)) continue;
    TRY_VOID(nl::deleteNeigh(s, d.bridge.index, ip));
    say.removed(d.bridge.index, ip, mac);
  }
  for (const auto& [mac, vtep] : macsBefore) {
    if (macsAfter.count(mac)) continue;
    TRY_VOID(nl::deleteMasterFdb(s, d.vxlan.index, mac));
    TRY_VOID(nl::deleteFdb(s, d.vxlan.index, mac, vtep));
    ++out.removed;
  }
  for (const auto& [mac, vtep] : macsAfter) {
    auto was = macsBefore.find(mac);
    if (was != macsBefore.end() && was->second == vtep) continue;
    TRY_VOID(nl::replaceFdb(s, d.vxlan.index, mac, vtep));
    if (was == macsBefore.end()) TRY_VOID(nl::replaceMasterFdb(s, d.vxlan.index, mac));
    ++out.added;
  }
  for (const auto& [ip, mac] : ipsAfter) {
    auto was = ipsBefore.find(ip);
    if (was != ipsBefore.end() && was->second == mac) continue;
    TRY_VOID(nl::addNeigh(s, d.bridge.index, ip, mac, true));
    say.added(d.bridge.index, ip, mac, was != ipsBefore.end());
  }
  return out;
}

Result<PeerSync> syncPeers(nl::Socket& s, const NetDevices& d, const std::vector<Peer>& peers, Announcer& say) {
  // Suppression first: it also keeps the announcements below off the VXLAN port (a gratuitous ARP is for
  // this host's containers; without suppression the bridge copies it to every member too).
  TRY_VOID(nl::setBridgePortNeighSuppress(s, d.vxlan.index, true));
  return syncEntries(s, d, peers, say);
}

Result<void> clearPeers(nl::Socket& s, const NetDevices& d) {
  TRY_VOID(nl::setBridgePortNeighSuppress(s, d.vxlan.index, false));
  Announcer none;  // nothing is added, nothing said
  (void)TRY(syncEntries(s, d, {}, none));
  return {};
}

}  // namespace ovl::vxlan
