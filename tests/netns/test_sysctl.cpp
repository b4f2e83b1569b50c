#include <cerrno>

#include "fixture.hpp"
#include "ns/sysctl.hpp"

using namespace ovl;
using namespace ovl::test;

TEST_CASE("sysctl write/read inside a namespace leaves the root namespace alone") {
  TestNetns t;
  std::string rootBefore = OKV(ns::readSysctl("net.ipv4.ip_forward"));
  std::string rootLo = OKV(ns::readSysctl("net/ipv4/conf/lo/forwarding"));
  {
    auto inside = OKV(ns::ScopedNetns::enter(t.ns));
    std::string want = rootBefore == "1" ? "0" : "1";
    REQUIRE_OK(ns::writeSysctl("net.ipv4.ip_forward", want));
    CHECK(OKV(ns::readSysctl("net.ipv4.ip_forward")) == want);
    CHECK(OKV(ns::readSysctl("net/ipv4/ip_forward")) == want);
    REQUIRE_OK(ns::writeSysctl("net/ipv4/conf/lo/forwarding", rootLo == "1" ? "0" : "1"));
    CHECK(OKV(ns::readSysctl("net/ipv4/conf/lo/forwarding")) == (rootLo == "1" ? "0" : "1"));
  }
  CHECK(OKV(ns::readSysctl("net.ipv4.ip_forward")) == rootBefore);
  CHECK(OKV(ns::readSysctl("net/ipv4/conf/lo/forwarding")) == rootLo);
  CHECK(sh("ip netns exec " + t.name() + " cat /proc/sys/net/ipv4/ip_forward") ==
        (rootBefore == "1" ? "0\n" : "1\n"));
}

TEST_CASE("sysctl keys are validated and unknown keys are notFound") {
  for (const char* bad : {"", "../etc/passwd", "net/../../etc", "net.ipv4.ip forward", "/net/ipv4/ip_forward",
                          "net.ipv4.ip_forward;", "net/ipv4/\n"}) {
    auto r = ns::readSysctl(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Code::InvalidConfig);
    CHECK_FALSE(ns::writeSysctl(bad, "1"));
  }
  auto missing = ns::readSysctl("net.ipv4.no_such_key_ovl");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().sysErrno == ENOENT);
  CHECK(missing.error().notFound());
  CHECK(OKV(ns::sysctlPath("net.ipv4.conf.all.forwarding")) == "/proc/sys/net/ipv4/conf/all/forwarding");
  CHECK(OKV(ns::sysctlPath("net/ipv4/conf/eth0.100/forwarding")) == "/proc/sys/net/ipv4/conf/eth0.100/forwarding");
}
