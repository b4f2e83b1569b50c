#include <cerrno>

#include "fixture.hpp"
#include "nl/link.hpp"
#include "nl/veth.hpp"

using namespace ovl;
using namespace ovl::test;

TEST_CASE("createVeth puts the peer straight into the container namespace") {
  TestNetns host, cont;
  auto mac = *MacAddr::parse("02:42:0a:01:00:05");
  auto pair = OKV(nl::createVeth(host.sock, "vethovl0", "eth0", cont.ns.fd(), 1400, mac));
  CHECK(pair.host.name == "vethovl0");
  CHECK(pair.host.kind == "veth");
  CHECK(pair.host.up);
  CHECK(pair.host.mtu == 1400);
  CHECK(pair.peerIndex > 0);
  CHECK(pair.host.linkNetnsId >= 0);  // peer lives in another namespace

  // Not in the host namespace...
  CHECK_FALSE(OKV(nl::findLink(host.sock, "eth0")).has_value());
  // ...but in the container, with the requested name, MAC and MTU.
  auto peer = OKV(nl::requireLink(cont.sock, "eth0"));
  CHECK(peer.index == pair.peerIndex);
  CHECK(peer.kind == "veth");
  CHECK(peer.mac == mac);
  CHECK(peer.mtu == 1400);
  CHECK_FALSE(peer.up);
  CHECK(peer.linkIndex == pair.host.index);
  auto j = shJson(cont.ip() + "-j link show dev eth0");
  CHECK(jstr(j, "0.address") == "02:42:0a:01:00:05");

  // Same names again: EEXIST naming the host end.
  auto dup = nl::createVeth(host.sock, "vethovl0", "eth0", cont.ns.fd(), 1400, std::nullopt);
  REQUIRE_FALSE(dup);
  CHECK(dup.error().sysErrno == EEXIST);
  CHECK(dup.error().msg.find("'vethovl0'") != std::string::npos);
  // Peer name taken in the container only: also EEXIST, and no host end is left behind.
  auto dupPeer = nl::createVeth(host.sock, "vethovl1", "eth0", cont.ns.fd(), 0, std::nullopt);
  REQUIRE_FALSE(dupPeer);
  CHECK(dupPeer.error().sysErrno == EEXIST);
  CHECK_FALSE(OKV(nl::findLink(host.sock, "vethovl1")).has_value());

  // Deleting the host end removes the peer too; deleting again is fine.
  REQUIRE_OK(nl::deleteLink(host.sock, "vethovl0"));
  CHECK_FALSE(OKV(nl::findLink(cont.sock, "eth0")).has_value());
  REQUIRE_OK(nl::deleteLink(host.sock, "vethovl0"));
}

TEST_CASE("createVeth without MTU or MAC uses kernel defaults") {
  TestNetns host, cont;
  auto pair = OKV(nl::createVeth(host.sock, "vethovl2", "eth1", cont.ns.fd(), 0, std::nullopt));
  auto peer = OKV(nl::requireLink(cont.sock, "eth1"));
  CHECK(peer.mtu == 1500);
  CHECK(peer.mac.valid());
  CHECK(pair.host.mtu == 1500);
}
