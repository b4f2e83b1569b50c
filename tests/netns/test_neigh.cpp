#include <linux/neighbour.h>
#include <sys/socket.h>

#include <algorithm>

#include "fixture.hpp"
#include "nl/link.hpp"
#include "nl/neigh.hpp"

using namespace ovl;
using namespace ovl::test;

namespace {
int upDummy(TestNetns& t, const std::string& name) {
  addTestLink(t, name);
  auto l = OKV(nl::requireLink(t.sock, name));
  REQUIRE_OK(nl::setLinkUp(t.sock, l.index, true));
  return l.index;
}
std::vector<nl::NeighInfo> entriesFor(nl::Socket& s, const IpAddr& ip) {
  auto all = OKV(nl::dumpNeighs(s, 0, 0));
  std::vector<nl::NeighInfo> out;
  std::copy_if(all.begin(), all.end(), std::back_inserter(out), [&](const nl::NeighInfo& n) { return n.ip == ip; });
  return out;
}
}  // namespace

TEST_CASE("addNeigh replaces, dumpNeighs filters, deleteNeigh and flushNeighsFor tolerate absence") {
  TestNetns t;
  int d0 = upDummy(t, "d0");
  int d1 = upDummy(t, "d1");
  auto ip4 = *IpAddr::parse("10.1.0.7");
  auto ip6 = *IpAddr::parse("fd00::7");
  auto mac1 = *MacAddr::parse("02:00:00:00:00:07");
  auto mac2 = *MacAddr::parse("02:00:00:00:00:08");

  REQUIRE_OK(nl::addNeigh(t.sock, d0, ip4, mac1, true));
  auto e = entriesFor(t.sock, ip4);
  REQUIRE(e.size() == 1);
  CHECK(e[0].ifindex == d0);
  CHECK(e[0].mac == mac1);
  CHECK(e[0].state == NUD_PERMANENT);
  CHECK(sh(t.ip() + "neigh show 10.1.0.7").find("10.1.0.7 dev d0 lladdr 02:00:00:00:00:07 PERMANENT") == 0);

  REQUIRE_OK(nl::addNeigh(t.sock, d0, ip4, mac2, true));  // replace
  e = entriesFor(t.sock, ip4);
  REQUIRE(e.size() == 1);
  CHECK(e[0].mac == mac2);

  REQUIRE_OK(nl::addNeigh(t.sock, d1, ip4, mac1, false));
  REQUIRE_OK(nl::addNeigh(t.sock, d0, ip6, mac1, true));
  CHECK(entriesFor(t.sock, ip4).size() == 2);
  // Filters: IPv6 on d0 holds our entry and no IPv4 one (the kernel may add its own IPv6 entries).
  auto only6 = OKV(nl::dumpNeighs(t.sock, d0, AF_INET6));
  CHECK(std::any_of(only6.begin(), only6.end(), [&](const nl::NeighInfo& n) { return n.ip == ip6; }));
  for (auto& n : only6) CHECK((n.ip.isV6() && n.ifindex == d0));
  auto d1v4 = OKV(nl::dumpNeighs(t.sock, d1, AF_INET));
  REQUIRE(d1v4.size() == 1);
  CHECK(d1v4[0].ip == ip4);
  CHECK(d1v4[0].state == NUD_REACHABLE);

  REQUIRE_OK(nl::flushNeighsFor(t.sock, ip4));
  CHECK(entriesFor(t.sock, ip4).empty());
  REQUIRE_OK(nl::flushNeighsFor(t.sock, ip4));  // none left: success
  CHECK(entriesFor(t.sock, ip6).size() == 1);   // other IPs untouched

  REQUIRE_OK(nl::deleteNeigh(t.sock, d0, ip6));
  REQUIRE_OK(nl::deleteNeigh(t.sock, d0, ip6));
  CHECK(entriesFor(t.sock, ip6).empty());
}
