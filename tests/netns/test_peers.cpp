#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <net/ethernet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <map>
#include <set>

#include "fixture.hpp"
#include "nl/fdb.hpp"
#include "nl/link.hpp"
#include "nl/garp.hpp"
#include "nl/neigh.hpp"
#include "ns/netns.hpp"
#include "util/unique_fd.hpp"
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

// An underlay link and a network's bridge and VXLAN device in t.
vxlan::NetDevices netDevices(TestNetns& t, uint32_t vni) {
  addTestLink(t, "ul0");
  run(t.ip() + "addr add 198.51.100.1/24 dev ul0");
  run(t.ip() + "link set ul0 up");
  auto ul = OKV(nl::requireLink(t.sock, "ul0"));
  const vxlan::Underlay u{*IpAddr::parse("198.51.100.1"), ul.index, "ul0", 1500};
  auto in = OKV(ns::ScopedNetns::enter(t.ns));  // the bridge's IPv6 sysctls are written from inside
  return OKV(vxlan::ensureNetDevices(t.sock, vni, u, 4789, 1450));
}

}  // namespace

TEST_CASE("applyPeerChanges leaves exactly what a full syncPeers would, touching only the differences") {
  TestNetns t;
  const auto dev = netDevices(t, 4242);

  vxlan::Announcer say;
  const std::vector<vxlan::Peer> before{peer("10.9.0.2", "02:00:00:00:00:02", "198.51.100.2"),
                                        peer("10.9.0.3", "02:00:00:00:00:03", "198.51.100.3"),
                                        peer("10.9.0.4", "02:00:00:00:00:04", "198.51.100.2")};
  auto first = OKV(vxlan::syncPeers(t.sock, dev, before, say));
  CHECK(first.added == 3);
  CHECK(held(t.sock, dev) == expected(before));

  // .2 left, .3's container moved to another host (same MAC, new VTEP), .4 came back with a new MAC, .5 is new.
  const std::vector<vxlan::Peer> after{peer("10.9.0.3", "02:00:00:00:00:03", "198.51.100.4"),
                                       peer("10.9.0.4", "02:00:00:00:00:14", "198.51.100.2"),
                                       peer("10.9.0.5", "02:00:00:00:00:05", "198.51.100.3")};
  auto delta = OKV(vxlan::applyPeerChanges(t.sock, dev, before, after, say));
  CHECK(delta.removed == 2);  // the MACs of .2 and of .4's old container
  CHECK(delta.added == 3);    // .3's new VTEP, .4's new MAC, .5
  CHECK(held(t.sock, dev) == expected(after));
  auto again = OKV(vxlan::syncPeers(t.sock, dev, after, say));  // a full pass finds nothing to do
  CHECK(again.added == 0);
  CHECK(again.removed == 0);

  // Nothing changed: nothing sent. Everything gone: nothing of ours left.
  auto none = OKV(vxlan::applyPeerChanges(t.sock, dev, after, after, say));
  CHECK(none.added + none.removed == 0);
  OKV(vxlan::applyPeerChanges(t.sock, dev, after, {}, say));
  CHECK(held(t.sock, dev) == Held{});
  // Entries someone else removed meanwhile: removing them again is not an error.
  OKV(vxlan::applyPeerChanges(t.sock, dev, after, {}, say));
}

namespace {

// The gratuitous ARPs a local container port receives, read up to a marker the test sends itself: what a
// step sent is everything before its marker, with no waiting on time.
class ArpTap {
 public:
  ArpTap(const TestNetns& t, int portIndex, int bridgeIndex)
      : bridge_(bridgeIndex), fd_(openTap(t, portIndex, SOCK_DGRAM, ETH_P_ARP)) {
    auto in = OKV(ns::ScopedNetns::enter(t.ns));
    marker_ = OKV(nl::openArpSocket());
  }
  // "IP at MAC" of each announcement since the last call.
  std::vector<std::string> take() {
    const auto mark = *IpAddr::parse("10.9.255.255");
    REQUIRE_OK(nl::sendGratuitousArp(marker_.get(), bridge_, *MacAddr::parse("02:00:00:00:ff:ff"), mark));
    std::vector<std::string> got;
    for (;;) {
      uint8_t buf[128];
      const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
      REQUIRE(n >= 28);
      std::array<uint8_t, 6> mac{};
      std::copy(buf + 8, buf + 14, mac.begin());
      char ip[INET_ADDRSTRLEN];
      ::inet_ntop(AF_INET, buf + 14, ip, sizeof ip);
      if (std::string(ip) == mark.str()) return got;
      got.push_back(std::string(ip) + " at " + MacAddr(mac).str());
    }
  }

 private:
  int bridge_;
  UniqueFd fd_, marker_;
};

}  // namespace

TEST_CASE("peer entries are announced to local containers only when an address changed its MAC") {
  TestNetns t;
  const auto dev = netDevices(t, 4243);
  // A local container's port on the bridge.
  run(t.ip() + "link add lc0 type veth peer name lc0p");
  run(t.ip() + "link set lc0 master " + dev.bridge.name + " up");
  run(t.ip() + "link set lc0p up");
  ArpTap tap(t, OKV(nl::requireLink(t.sock, "lc0p")).index, dev.bridge.index);
  vxlan::Announcer say;
  {
    auto in = OKV(ns::ScopedNetns::enter(t.ns));  // its socket sends on the bridges' namespace's links
    say = OKV(vxlan::Announcer::open());
  }
  using V = std::vector<std::string>;

  const auto a = peer("10.9.0.2", "02:00:00:00:00:02", "198.51.100.2");
  const auto b = peer("10.9.0.3", "02:00:00:00:00:03", "198.51.100.3");
  const auto c = peer("10.9.0.5", "02:00:00:00:00:05", "198.51.100.2");
  const auto bMoved = peer("10.9.0.3", "02:00:00:00:00:13", "198.51.100.3");
  const auto cNew = peer("10.9.0.5", "02:00:00:00:00:15", "198.51.100.3");
  // A full pass does not know what the kernel held before: it announces what it adds.
  OKV(vxlan::syncPeers(t.sock, dev, {a, b}, say));
  CHECK(tap.take() == V{"10.9.0.2 at 02:00:00:00:00:02", "10.9.0.3 at 02:00:00:00:00:03"});
  // A new address: nobody here can hold it under another MAC.
  OKV(vxlan::applyPeerChanges(t.sock, dev, {a, b}, {a, b, c}, say));
  CHECK(tap.take() == V{});
  // .3 under another MAC in one change; .5 gone, then back under another MAC; .2 gone and back unchanged.
  OKV(vxlan::applyPeerChanges(t.sock, dev, {a, b, c}, {a, bMoved}, say));
  CHECK(tap.take() == V{"10.9.0.3 at 02:00:00:00:00:13"});
  OKV(vxlan::applyPeerChanges(t.sock, dev, {a, bMoved}, {bMoved}, say));
  OKV(vxlan::applyPeerChanges(t.sock, dev, {bMoved}, {a, bMoved, cNew}, say));
  CHECK(tap.take() == V{"10.9.0.5 at 02:00:00:00:00:15"});
  // Once announced, the removal is forgotten: the address is current again.
  OKV(vxlan::applyPeerChanges(t.sock, dev, {a, bMoved, cNew}, {a, bMoved, cNew}, say));
  CHECK(tap.take() == V{});
  CHECK(say.sent() == 4);
}

TEST_CASE("the announcer remembers a bounded number of removals, the latest") {
  vxlan::Announcer say;
  const auto mac = *MacAddr::parse("02:00:00:00:00:01");
  // Removing one address again and again keeps one record of it; the queue stays bounded.
  for (size_t i = 0; i < vxlan::Announcer::kRemembered + 10; ++i) say.removed(1, *IpAddr::parse("10.9.0.1"), mac);
  CHECK(say.remembered() == 1);
  for (uint32_t i = 0; i < vxlan::Announcer::kRemembered + 10; ++i)
    say.removed(1, IpAddr::v4(0x0a0a0000u + i), mac);
  CHECK(say.remembered() == vxlan::Announcer::kRemembered);
}
