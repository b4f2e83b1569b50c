#include "fixture.hpp"
#include "nl/bridge.hpp"
#include "nl/vxlan.hpp"

using namespace ovl;
using namespace ovl::test;

TEST_CASE("ensureVxlan creates with the requested parameters and keeps a matching device") {
  TestNetns t;
  nl::VxlanSpec spec;
  spec.name = "ovx-42";
  spec.vni = 42;
  spec.local = *IpAddr::parse("198.51.100.1");
  spec.mtu = 1450;
  spec.mac = MacAddr::parse("02:00:00:00:42:42");
  auto vx = OKV(nl::ensureVxlan(t.sock, spec));
  CHECK(vx.link.kind == "vxlan");
  CHECK(vx.link.up);
  CHECK(vx.link.mtu == 1450);
  CHECK(vx.link.mac == *spec.mac);
  CHECK(vx.vni == 42);
  CHECK(vx.local == spec.local);
  CHECK(vx.port == 4789);
  CHECK(vx.learning);
  CHECK(vx.ageing == 300);

  auto j = shJson(t.ip() + "-d -j link show dev ovx-42");
  REQUIRE(j.IsArray());
  CHECK(jstr(j, "0.linkinfo.info_kind") == "vxlan");
  CHECK(jint(j, "0.linkinfo.info_data.id") == 42);
  CHECK(jstr(j, "0.linkinfo.info_data.local") == "198.51.100.1");
  CHECK(jint(j, "0.linkinfo.info_data.port") == 4789);
  CHECK(jbool(j, "0.linkinfo.info_data.learning") == true);
  CHECK(jint(j, "0.linkinfo.info_data.ageing") == 300);
  CHECK(jbool(j, "0.linkinfo.info_data.udp_csum") == true);
  CHECK(jint(j, "0.mtu") == 1450);

  // Same parameters: the device is kept (same ifindex).
  auto again = OKV(nl::ensureVxlan(t.sock, spec));
  CHECK(again.link.index == vx.link.index);
  auto found = OKV(nl::findVxlan(t.sock, "ovx-42"));
  REQUIRE(found.has_value());
  CHECK(found->vni == 42);

  REQUIRE_OK(nl::deleteLink(t.sock, "ovx-42"));
  CHECK_FALSE(OKV(nl::findVxlan(t.sock, "ovx-42")).has_value());
  REQUIRE_OK(nl::deleteLink(t.sock, "ovx-42"));
}

TEST_CASE("ensureVxlan recreates a device whose parameters differ (non-default port, no learning)") {
  TestNetns t;
  addTestLink(t, "under0");
  run(t.ip() + "link set under0 up");
  auto under = OKV(nl::requireLink(t.sock, "under0"));

  nl::VxlanSpec spec;
  spec.name = "ovx-7";
  spec.vni = 7;
  spec.local = *IpAddr::parse("198.51.100.1");
  auto first = OKV(nl::ensureVxlan(t.sock, spec));

  // Enslave it to a bridge to see that recreation detaches it (documented behaviour).
  auto br = OKV(nl::ensureBridge(t.sock, {"ovlbr7"}));
  REQUIRE_OK(nl::setLinkMaster(t.sock, first.link.index, br.index));

  spec.port = 8472;
  spec.learning = false;
  spec.underlayIndex = under.index;
  spec.ttl = 16;
  spec.ageing = 120;
  auto second = OKV(nl::ensureVxlan(t.sock, spec));
  CHECK(second.link.index != first.link.index);
  CHECK(second.port == 8472);
  CHECK_FALSE(second.learning);
  CHECK(second.underlayIndex == under.index);
  CHECK(second.ttl == 16);
  CHECK(second.ageing == 120);
  CHECK(second.link.master == 0);

  auto j = shJson(t.ip() + "-d -j link show dev ovx-7");
  CHECK(jint(j, "0.linkinfo.info_data.port") == 8472);
  CHECK(jbool(j, "0.linkinfo.info_data.learning") == false);
  CHECK(jstr(j, "0.linkinfo.info_data.link") == "under0");
  CHECK(jint(j, "0.linkinfo.info_data.ttl") == 16);

  // A different vni with the same name is recreated too.
  spec.vni = 8;
  auto third = OKV(nl::ensureVxlan(t.sock, spec));
  CHECK(third.vni == 8);
  CHECK(jint(shJson(t.ip() + "-d -j link show dev ovx-7"), "0.linkinfo.info_data.id") == 8);
}

TEST_CASE("ensureVxlan with an IPv6 local address") {
  TestNetns t;
  nl::VxlanSpec spec;
  spec.name = "ovx6";
  spec.vni = 600;
  spec.local = *IpAddr::parse("fd00::1");
  auto vx = OKV(nl::ensureVxlan(t.sock, spec));
  CHECK(vx.local == spec.local);
  auto j = shJson(t.ip() + "-d -j link show dev ovx6");
  CHECK(jstr(j, "0.linkinfo.info_data.local6") == "fd00::1");
  CHECK(jint(j, "0.linkinfo.info_data.port") == 4789);
}

TEST_CASE("ensureVxlan and findVxlan refuse a link of another kind, bad vni is InvalidConfig") {
  TestNetns t;
  addTestLink(t, "ovx-9");
  auto f = nl::findVxlan(t.sock, "ovx-9");
  REQUIRE_FALSE(f);
  CHECK(f.error().code == Code::InvalidConfig);
  nl::VxlanSpec spec;
  spec.name = "ovx-9";
  spec.vni = 9;
  auto e = nl::ensureVxlan(t.sock, spec);
  REQUIRE_FALSE(e);
  CHECK(e.error().code == Code::InvalidConfig);
  CHECK(OKV(nl::requireLink(t.sock, "ovx-9")).kind == "veth");  // untouched

  spec.name = "ovx-big";
  spec.vni = 1u << 24;
  auto big = nl::ensureVxlan(t.sock, spec);
  REQUIRE_FALSE(big);
  CHECK(big.error().code == Code::InvalidConfig);
}
