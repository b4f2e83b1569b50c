#include "fixture.hpp"
#include "nl/addr.hpp"
#include "nl/bridge.hpp"
#include "nl/host_ipv6.hpp"
#include "nl/link.hpp"
#include "ns/netns.hpp"

using namespace ovl;
using namespace ovl::test;

namespace {
// ensureBridge with the calling thread inside t, as the plugins run.
nl::LinkInfo ensureInside(TestNetns& t, const nl::BridgeSpec& spec) {
  auto in = OKV(ns::ScopedNetns::enter(t.ns));
  return OKV(nl::ensureBridge(t.sock, spec));
}

std::string v6conf(const TestNetns& t, const std::string& dev, const std::string& key) {
  std::string out = sh("ip netns exec " + t.name() + " cat /proc/sys/net/ipv6/conf/" + dev + "/" + key);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}
}  // namespace

TEST_CASE("ensureHostIpv6 refuses when the thread is not in the socket's namespace") {
  TestNetns t;
  nl::BridgeSpec spec{"ovlbr6", 0, std::nullopt, true, nl::HostIpv6::Off};
  auto r = nl::ensureBridge(t.sock, spec);  // this thread is in the root namespace
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Code::Internal);
  CHECK(r.error().msg.find("ovlbr6") != std::string::npos);
}

TEST_CASE("a bridge made with HostIpv6 comes up without any IPv6 address, and a flapped one is fixed") {
  TestNetns t;
  nl::BridgeSpec off{"ovlbr7", 0, std::nullopt, true, nl::HostIpv6::Off};
  auto br = ensureInside(t, off);
  CHECK(br.up);
  CHECK(v6conf(t, "ovlbr7", "disable_ipv6") == "1");
  CHECK(v6conf(t, "ovlbr7", "accept_ra") == "0");
  CHECK(v6conf(t, "ovlbr7", "addr_gen_mode") == "1");
  CHECK(sh(t.ip() + "-6 addr show dev ovlbr7").empty());
  {
    auto in = OKV(ns::ScopedNetns::enter(t.ns));
    CHECK_FALSE(OKV(nl::ensureHostIpv6(t.sock, br, nl::HostIpv6::Off)));  // nothing left to change
  }

  // NoAutoconf keeps IPv6 on; a bridge left with the kernel's defaults loses its link-local address.
  run("ip netns exec " + t.name() + " sh -c 'echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad'");
  run(t.ip() + "link add ovlbr8 type bridge && " + t.ip() + "link set ovlbr8 up");
  CHECK(sh(t.ip() + "-6 addr show dev ovlbr8").find("fe80::") != std::string::npos);
  run(t.ip() + "-6 addr add fd00:77::1/64 dev ovlbr8 nodad");
  nl::BridgeSpec keep{"ovlbr8", 0, std::nullopt, true, nl::HostIpv6::NoAutoconf};
  br = ensureInside(t, keep);
  CHECK(v6conf(t, "ovlbr8", "disable_ipv6") == "0");
  CHECK(v6conf(t, "ovlbr8", "accept_ra") == "0");
  CHECK(sh(t.ip() + "-6 addr show dev ovlbr8").find("fe80::") == std::string::npos);
  REQUIRE_OK(nl::addAddress(t.sock, br.index, *IpNet::parse("fd00:77::1/64"), true));  // the caller re-adds
  CHECK(sh(t.ip() + "-6 addr show dev ovlbr8").find("fd00:77::1/64") != std::string::npos);
}

TEST_CASE("ensurePortsHostIpv6 fixes the ports left with IPv6 on and reads settled ones without /proc/sys") {
  TestNetns t;
  nl::BridgeSpec off{"ovlbr9", 0, std::nullopt, true, nl::HostIpv6::Off};
  auto br = ensureInside(t, off);
  // Two ports as an older version left them (the kernel's defaults), one as this one makes them.
  for (const char* p : {"ovlp1", "ovlp2", "ovlp3"}) {
    run(t.ip() + "link add " + p + " type veth peer name " + p + "x");
    run(t.ip() + "link set " + p + " master ovlbr9");
  }
  run("ip netns exec " + t.name() + " sh -c 'cd /proc/sys/net/ipv6/conf/ovlp3 && echo 1 > addr_gen_mode && "
      "echo 0 > accept_ra && echo 1 > disable_ipv6'");
  REQUIRE(v6conf(t, "ovlp1", "disable_ipv6") == "0");
  REQUIRE(v6conf(t, "ovlp1", "accept_ra") == "1");
  {
    auto in = OKV(ns::ScopedNetns::enter(t.ns));
    CHECK(OKV(nl::ensurePortsHostIpv6(t.sock, br.index, nl::HostIpv6::Off)) == 2);
  }
  for (const char* p : {"ovlp1", "ovlp2", "ovlp3"}) {
    CHECK(v6conf(t, p, "disable_ipv6") == "1");
    CHECK(v6conf(t, p, "accept_ra") == "0");
    CHECK(v6conf(t, p, "addr_gen_mode") == "1");
  }
  CHECK(v6conf(t, "ovlp1x", "disable_ipv6") == "0");  // not a port: untouched
  // Settled: the settings come over netlink and nothing is written, so this thread's namespace (the root
  // one, where a sysctl would land) does not matter and nothing is refused.
  CHECK(OKV(nl::ensurePortsHostIpv6(t.sock, br.index, nl::HostIpv6::Off)) == 0);
  auto p1 = OKV(nl::requireLink(t.sock, "ovlp1"));
  CHECK_FALSE(OKV(nl::ensureHostIpv6(t.sock, p1, nl::HostIpv6::Off)));
  // A port that needs a change is still refused from the wrong namespace, before anything is written.
  run("ip netns exec " + t.name() + " sh -c 'echo 2 > /proc/sys/net/ipv6/conf/ovlp2/accept_ra'");
  auto r = nl::ensurePortsHostIpv6(t.sock, br.index, nl::HostIpv6::Off);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Code::Internal);
  CHECK(r.error().msg.find("ovlp2") != std::string::npos);
  CHECK(v6conf(t, "ovlp2", "accept_ra") == "2");
  // A link that is gone has no IPv6 to fix.
  nl::LinkInfo gone = p1;
  gone.index = 999999;
  CHECK_FALSE(OKV(nl::ensureHostIpv6(t.sock, gone, nl::HostIpv6::Off)));
}
