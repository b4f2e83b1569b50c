#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>

#include "fixture.hpp"
#include "nl/addr.hpp"
#include "nl/link.hpp"
#include "nl/route.hpp"

using namespace ovl;
using namespace ovl::test;

namespace {
const nl::RouteSpec* findRoute(const std::vector<nl::RouteSpec>& v, const std::string& dst) {
  auto want = *IpNet::parse(dst);
  auto it = std::find_if(v.begin(), v.end(), [&](const nl::RouteSpec& r) { return r.dst == want; });
  return it == v.end() ? nullptr : &*it;
}

int setupDummy(TestNetns& t) {
  addTestLink(t, "d0");
  auto d0 = OKV(nl::requireLink(t.sock, "d0"));
  REQUIRE_OK(nl::setLinkUp(t.sock, d0.index, true));
  REQUIRE_OK(nl::addAddress(t.sock, d0.index, *IpNet::parse("10.1.0.5/24")));
  REQUIRE_OK(nl::addAddress(t.sock, d0.index, *IpNet::parse("fd00::5/64"), true));
  return d0.index;
}
}  // namespace

TEST_CASE("IPv4 routes: gateway, mtu, advmss, priority, table, default route") {
  TestNetns t;
  int d0 = setupDummy(t);

  nl::RouteSpec r;
  r.dst = *IpNet::parse("10.2.0.0/24");
  r.gw = IpAddr::parse("10.1.0.1");
  r.ifindex = d0;
  r.mtu = 1400;
  r.advmss = 1360;
  r.priority = 50;
  REQUIRE_OK(nl::addRoute(t.sock, r));
  REQUIRE_OK(nl::addRoute(t.sock, r));  // exists: success

  auto routes = OKV(nl::dumpRoutes(t.sock, AF_INET));
  auto* got = findRoute(routes, "10.2.0.0/24");
  REQUIRE(got);
  CHECK(got->gw == r.gw);
  CHECK(got->ifindex == d0);
  CHECK(got->mtu == 1400);
  CHECK(got->advmss == 1360);
  CHECK(got->priority == 50);
  CHECK(got->scope == RT_SCOPE_UNIVERSE);
  // The connected route of 10.1.0.5/24 is there too, scope link, no gateway.
  auto* connected = findRoute(routes, "10.1.0.0/24");
  REQUIRE(connected);
  CHECK_FALSE(connected->gw.has_value());
  CHECK(connected->scope == RT_SCOPE_LINK);

  auto j = shJson(t.ip() + "-j -d route show 10.2.0.0/24");
  REQUIRE((j.IsArray() && j.Size() == 1));
  CHECK(jstr(j, "0.gateway") == "10.1.0.1");
  CHECK(jint(j, "0.metric") == 50);
  CHECK(jint(j, "0.metrics.0.mtu") == 1400);

  // A link-scope route in table 100 does not show in main.
  nl::RouteSpec t100;
  t100.dst = *IpNet::parse("10.3.0.0/24");
  t100.ifindex = d0;
  t100.table = 100;
  REQUIRE_OK(nl::addRoute(t.sock, t100));
  CHECK_FALSE(findRoute(OKV(nl::dumpRoutes(t.sock, AF_INET)), "10.3.0.0/24"));
  auto in100 = OKV(nl::dumpRoutes(t.sock, AF_INET, 100));
  auto* got100 = findRoute(in100, "10.3.0.0/24");
  REQUIRE(got100);
  CHECK(got100->table == 100);
  CHECK(got100->scope == RT_SCOPE_LINK);
  CHECK(sh(t.ip() + "route show table 100").find("10.3.0.0/24 dev d0") != std::string::npos);

  CHECK_FALSE(OKV(nl::findDefaultRoute(t.sock, AF_INET)).has_value());
  nl::RouteSpec def;
  def.dst = *IpNet::parse("0.0.0.0/0");
  def.gw = IpAddr::parse("10.1.0.1");
  REQUIRE_OK(nl::addRoute(t.sock, def));
  auto found = OKV(nl::findDefaultRoute(t.sock, AF_INET));
  REQUIRE(found.has_value());
  CHECK(found->gw == def.gw);
  CHECK(found->ifindex == d0);
  CHECK(sh(t.ip() + "route show default").find("default via 10.1.0.1 dev d0") == 0);

  REQUIRE_OK(nl::deleteRoute(t.sock, r));
  REQUIRE_OK(nl::deleteRoute(t.sock, r));  // absent: success
  REQUIRE_OK(nl::deleteRoute(t.sock, t100));
  REQUIRE_OK(nl::deleteRoute(t.sock, t100));
  REQUIRE_OK(nl::deleteRoute(t.sock, def));
  REQUIRE_OK(nl::deleteRoute(t.sock, def));
  CHECK_FALSE(findRoute(OKV(nl::dumpRoutes(t.sock, AF_INET)), "10.2.0.0/24"));
  CHECK_FALSE(OKV(nl::findDefaultRoute(t.sock, AF_INET)).has_value());
  CHECK(sh(t.ip() + "route show table 100").empty());

  // A route added by iproute2 (proto boot) is deleted by dst alone.
  run(t.ip() + "route add 10.4.0.0/24 via 10.1.0.1");
  nl::RouteSpec byDst;
  byDst.dst = *IpNet::parse("10.4.0.0/24");
  byDst.gw = IpAddr::parse("10.1.0.1");
  REQUIRE_OK(nl::deleteRoute(t.sock, byDst));
  CHECK(sh(t.ip() + "route show 10.4.0.0/24").empty());

  // Unreachable gateway: an error naming the route.
  nl::RouteSpec bad;
  bad.dst = *IpNet::parse("10.5.0.0/24");
  bad.gw = IpAddr::parse("10.9.9.9");
  auto e = nl::addRoute(t.sock, bad);
  REQUIRE_FALSE(e);
  CHECK(e.error().msg.find("10.5.0.0/24 via 10.9.9.9") != std::string::npos);
}

TEST_CASE("IPv6 routes and default route") {
  TestNetns t;
  int d0 = setupDummy(t);
  nl::RouteSpec r;
  r.dst = *IpNet::parse("fd00:2::/64");
  r.gw = IpAddr::parse("fd00::1");
  r.ifindex = d0;
  r.priority = 300;
  r.mtu = 1400;
  REQUIRE_OK(nl::addRoute(t.sock, r));
  REQUIRE_OK(nl::addRoute(t.sock, r));
  auto routes = OKV(nl::dumpRoutes(t.sock, AF_INET6));
  auto* got = findRoute(routes, "fd00:2::/64");
  REQUIRE(got);
  CHECK(got->gw == r.gw);
  CHECK(got->priority == 300);
  CHECK(got->mtu == 1400);
  CHECK(sh(t.ip() + "-6 route show fd00:2::/64").find("fd00:2::/64 via fd00::1 dev d0") == 0);

  nl::RouteSpec def;
  def.dst = *IpNet::parse("::/0");
  def.gw = IpAddr::parse("fd00::1");
  def.ifindex = d0;
  REQUIRE_OK(nl::addRoute(t.sock, def));
  auto found = OKV(nl::findDefaultRoute(t.sock, AF_INET6));
  REQUIRE(found.has_value());
  CHECK(found->gw == def.gw);
  CHECK_FALSE(OKV(nl::findDefaultRoute(t.sock, AF_INET)).has_value());

  REQUIRE_OK(nl::deleteRoute(t.sock, def));
  REQUIRE_OK(nl::deleteRoute(t.sock, def));
  REQUIRE_OK(nl::deleteRoute(t.sock, r));
  REQUIRE_OK(nl::deleteRoute(t.sock, r));
  CHECK_FALSE(OKV(nl::findDefaultRoute(t.sock, AF_INET6)).has_value());
  CHECK_FALSE(findRoute(OKV(nl::dumpRoutes(t.sock, AF_INET6)), "fd00:2::/64"));
}
