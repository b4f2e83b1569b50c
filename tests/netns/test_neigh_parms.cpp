#include <linux/ip.h>

#include "fixture.hpp"
#include "nl/link.hpp"
#include "nl/neigh_parms.hpp"

using namespace ovl;
using namespace ovl::test;

namespace {
std::string procSys(const TestNetns& t, const std::string& key) {
  return sh("ip netns exec " + t.name() + " cat /proc/sys/" + key);
}
}  // namespace

TEST_CASE("setArpParms sets the device's ARP retransmit time and locktime, as the sysctls show them") {
  TestNetns t;
  addTestLink(t, "a0");
  addTestLink(t, "a1");
  auto a0 = OKV(nl::requireLink(t.sock, "a0"));
  const std::string a1Retrans = procSys(t, "net/ipv4/neigh/a1/retrans_time_ms");
  const std::string a1Lock = procSys(t, "net/ipv4/neigh/a1/locktime");
  // A new device starts from the default parameters (1000 ms unless the machine's root namespace changed
  // them): make sure the value set below is a change.
  REQUIRE(procSys(t, "net/ipv4/neigh/a0/retrans_time_ms") != "100\n");
  REQUIRE(procSys(t, "net/ipv4/neigh/a0/retrans_time_ms") != "200\n");

  REQUIRE_OK(nl::setArpParms(t.sock, a0.index, {.retransMs = 100, .locktimeMs = 0}));
  CHECK(procSys(t, "net/ipv4/neigh/a0/retrans_time_ms") == "100\n");
  CHECK(procSys(t, "net/ipv4/neigh/a0/locktime") == "0\n");
  auto back = OKV(nl::getArpParms(t.sock, a0.index));
  CHECK(back.retransMs == 100);
  CHECK(back.locktimeMs == 0);
  // Idempotent, and only that device: its neighbour in the same namespace keeps the defaults.
  REQUIRE_OK(nl::setArpParms(t.sock, a0.index, {.retransMs = 100, .locktimeMs = 0}));
  CHECK(procSys(t, "net/ipv4/neigh/a1/retrans_time_ms") == a1Retrans);
  CHECK(procSys(t, "net/ipv4/neigh/a1/locktime") == a1Lock);

  // (Multiples of 4 ms: the kernel keeps jiffies, 250 ms would read back as 252 at HZ=250.)
  REQUIRE_OK(nl::setArpParms(t.sock, a0.index, {.retransMs = 200, .locktimeMs = 2000}));
  back = OKV(nl::getArpParms(t.sock, a0.index));
  CHECK(back.retransMs == 200);
  CHECK(back.locktimeMs == 2000);
  CHECK(procSys(t, "net/ipv4/neigh/a0/retrans_time_ms") == "200\n");

  // A device that is not there: an error that names it, nothing changed.
  auto gone = nl::setArpParms(t.sock, 999999, {.retransMs = 100, .locktimeMs = 0});
  REQUIRE_FALSE(gone);
  CHECK(gone.error().msg.find("link index 999999") != std::string::npos);
  CHECK_FALSE(nl::getArpParms(t.sock, 999999));
}

TEST_CASE("setLinkIpv4Conf sets one net/ipv4/conf setting of one device") {
  TestNetns t;
  addTestLink(t, "c0");
  addTestLink(t, "c1");
  auto c0 = OKV(nl::requireLink(t.sock, "c0"));
  REQUIRE(procSys(t, "net/ipv4/conf/c0/arp_notify") == "0\n");
  REQUIRE_OK(nl::setLinkIpv4Conf(t.sock, c0.index, IPV4_DEVCONF_ARP_NOTIFY, 1));
  CHECK(procSys(t, "net/ipv4/conf/c0/arp_notify") == "1\n");
  CHECK(procSys(t, "net/ipv4/conf/c1/arp_notify") == "0\n");
  REQUIRE_OK(nl::setLinkIpv4Conf(t.sock, c0.index, IPV4_DEVCONF_ARP_NOTIFY, 1));  // idempotent
  REQUIRE_OK(nl::setLinkIpv4Conf(t.sock, c0.index, IPV4_DEVCONF_ARP_NOTIFY, 0));
  CHECK(procSys(t, "net/ipv4/conf/c0/arp_notify") == "0\n");
  auto bad = nl::setLinkIpv4Conf(t.sock, c0.index, 0, 1);  // no such setting
  REQUIRE_FALSE(bad);
  CHECK(bad.error().msg.find("link index " + std::to_string(c0.index)) != std::string::npos);
  CHECK_FALSE(nl::setLinkIpv4Conf(t.sock, 999999, IPV4_DEVCONF_ARP_NOTIFY, 1));
}
