#include <linux/neighbour.h>

#include <map>
#include <set>

#include "fixture.hpp"
#include "nl/fdb.hpp"
#include "nl/link.hpp"
#include "nl/neigh.hpp"
#include "vxlan/arp_hold.hpp"
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

TEST_CASE("the ARP hold holds the first request for an unknown address once, idempotently, and goes away") {
  TestNetns t;
  NetnsName c;
  const std::string ns = t.name();
  // A bridge with an ovx- port and a container: the hold is installed once a bridge exists (arp_hold.hpp).
  run("ip -n " + ns + " link add br0 type bridge && ip -n " + ns + " link set br0 up");
  run("ip -n " + ns + " link add ovx-1 type veth peer name ovx-1p && ip -n " + ns + " link set ovx-1 master br0 up" +
      " && ip -n " + ns + " link set ovx-1p up");
  run("ip -n " + ns + " link add vc type veth peer name eth0 netns " + c.name() + " && ip -n " + ns +
      " link set vc master br0 up && ip -n " + c.name() + " link set eth0 up && ip -n " + c.name() +
      " addr add 10.9.9.2/24 dev eth0");
  run("ip netns exec " + c.name() + " sysctl -qw net.ipv4.neigh.eth0.retrans_time_ms=100");
  auto in = OKV(ns::ScopedNetns::enter(t.ns));  // nf_tables commits in the calling thread's namespace
  REQUIRE_OK(vxlan::installArpHold());
  REQUIRE_OK(vxlan::installArpHold());  // again: the chain is replaced, not doubled
  const std::string listed = sh("ip netns exec " + ns + " nft list table bridge ovl_arphold");
  CHECK(listed.find("type ifname . ipv4_addr") != std::string::npos);
  CHECK(listed.find("flags dynamic,timeout") != std::string::npos);
  CHECK(listed.find("timeout 1s") != std::string::npos);
  CHECK(listed.find("type filter hook forward priority 0; policy accept;") != std::string::npos);
  const std::string match = "oifname \"ovx-*\" ether daddr ff:ff:ff:ff:ff:ff arp operation request ";
  CHECK(listed.find(match + "oifname . arp daddr ip @held accept") != std::string::npos);
  CHECK(listed.find(match + "add @held { oifname . arp daddr ip } counter packets 0 bytes 0 drop") !=
        std::string::npos);
  size_t rules = 0;
  for (size_t at = 0; (at = listed.find(match, at)) != std::string::npos; at += match.size()) ++rules;
  CHECK(rules == 2);

  // Nobody has 10.9.9.77: the first request is dropped (and the address held for a second), the retries
  // 100 ms later pass. One ping waits a second: ten requests or so, one dropped.
  run("ip netns exec " + ns + " nft add rule bridge ovl_arphold hold oifname ovx-1 counter");  // what passed
  sh("ip netns exec " + c.name() + " ping -c1 -W1 10.9.9.77");
  const std::string after = sh("ip netns exec " + ns + " nft list table bridge ovl_arphold");
  CHECK_MESSAGE(after.find("drop comment") != std::string::npos, after);
  CHECK_MESSAGE(after.find("counter packets 1 bytes 28 drop") != std::string::npos, after);
  CHECK_MESSAGE(after.find("oifname \"ovx-1\" counter packets 0 ") == std::string::npos, after);  // retries passed

  REQUIRE_OK(vxlan::removeArpHold());
  CHECK(sh("ip netns exec " + ns + " nft list tables").find("ovl_arphold") == std::string::npos);
  REQUIRE_OK(vxlan::removeArpHold());  // absent: success
}
