#include <linux/neighbour.h>

#include <map>
#include <set>

#include "fixture.hpp"
#include "nl/fdb.hpp"
#include "nl/link.hpp"
#include "nl/neigh.hpp"
#include "vxlan/datapath.hpp"
#include "vxlan/peers.hpp"

using namespace ovl;
using namespace ovl::test;

namespace {

vxlan::Peer peer(const std::string& ip, const std::string& mac, const std::string& vtep) {
  return {*IpAddr::parse(ip), *MacAddr::parse(mac), *IpAddr::parse(vtep)};
}

// What the kernel holds of ours: permanent neighbours on the bridge, the VXLAN device's permanent unicast
// entries (MAC -> VTEP) and the bridge's static entries on the VXLAN port (MACs).
struct Held {
  std::map<IpAddr, MacAddr> neighs;
  std::map<MacAddr, IpAddr> self;
  std::set<MacAddr> master;
  bool operator==(const Held&) const = default;
};

Held held(nl::Socket& s, const vxlan::NetDevices& d) {
  Held h;
  for (const auto& n : OKV(nl::dumpNeighs(s, d.bridge.index)))
    if (n.state & NUD_PERMANENT) h.neighs[n.ip] = n.mac;
  for (const auto& e : OKV(nl::dumpFdb(s, d.vxlan.index))) {
    if (e.mac.isZero()) continue;
    if (e.master == d.bridge.index && e.state == NUD_NOARP) h.master.insert(e.mac);
    else if (e.master == 0 && e.dst && (e.state & NUD_PERMANENT)) h.self[e.mac] = *e.dst;
  }
  return h;
}

Held expected(const std::vector<vxlan::Peer>& peers) {
  Held h;
  for (const auto& p : peers) h.neighs[p.ip] = p.mac, h.self[p.mac] = p.vtep, h.master.insert(p.mac);
  return h;
}

}  // namespace

TEST_CASE("applyPeerChanges leaves exactly what a full syncPeers would, touching only the differences") {
  TestNetns t;
  addTestLink(t, "ul0");
  run(t.ip() + "addr add 198.51.100.1/24 dev ul0");
  run(t.ip() + "link set ul0 up");
  auto ul = OKV(nl::requireLink(t.sock, "ul0"));
  const vxlan::Underlay u{*IpAddr::parse("198.51.100.1"), ul.index, "ul0", 1500};
  vxlan::NetDevices dev;
  {
    auto in = OKV(ns::ScopedNetns::enter(t.ns));  // the bridge's IPv6 sysctls are written from inside
    dev = OKV(vxlan::ensureNetDevices(t.sock, 4242, u, 4789, 1450));
  }

  const std::vector<vxlan::Peer> before{peer("10.9.0.2", "02:00:00:00:00:02", "198.51.100.2"),
                                        peer("10.9.0.3", "02:00:00:00:00:03", "198.51.100.3"),
                                        peer("10.9.0.4", "02:00:00:00:00:04", "198.51.100.2")};
  auto first = OKV(vxlan::syncPeers(t.sock, dev, before));
  CHECK(first.added == 3);
  CHECK(held(t.sock, dev) == expected(before));

  // .2 left, .3's container moved to another host (same MAC, new VTEP), .4 came back with a new MAC, .5 is new.
  const std::vector<vxlan::Peer> after{peer("10.9.0.3", "02:00:00:00:00:03", "198.51.100.4"),
                                       peer("10.9.0.4", "02:00:00:00:00:14", "198.51.100.2"),
                                       peer("10.9.0.5", "02:00:00:00:00:05", "198.51.100.3")};
  auto delta = OKV(vxlan::applyPeerChanges(t.sock, dev, before, after));
  CHECK(delta.removed == 2);  // the MACs of .2 and of .4's old container
  CHECK(delta.added == 3);    // .3's new VTEP, .4's new MAC, .5
  CHECK(held(t.sock, dev) == expected(after));
  auto again = OKV(vxlan::syncPeers(t.sock, dev, after));  // a full pass finds nothing to do
  CHECK(again.added == 0);
  CHECK(again.removed == 0);

  // Nothing changed: nothing sent. Everything gone: nothing of ours left.
  auto none = OKV(vxlan::applyPeerChanges(t.sock, dev, after, after));
  CHECK(none.added + none.removed == 0);
  OKV(vxlan::applyPeerChanges(t.sock, dev, after, {}));
  CHECK(held(t.sock, dev) == Held{});
  // Entries someone else removed meanwhile: removing them again is not an error.
  OKV(vxlan::applyPeerChanges(t.sock, dev, after, {}));
}
