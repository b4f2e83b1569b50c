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

TEST_CASE("SysctlDir reads and writes the files of one directory, in the namespace it was opened in") {
  TestNetns t;
  addTestLink(t, "sd0");
  const std::string rootLo = OKV(ns::readSysctl("net/ipv4/conf/lo/forwarding"));
  {
    auto inside = OKV(ns::ScopedNetns::enter(t.ns));
    auto dir = OKV(ns::SysctlDir::open("net/ipv6/conf/sd0"));
    CHECK(dir.key() == "net/ipv6/conf/sd0");
    REQUIRE_OK(dir.write("accept_ra", "0"));
    CHECK(OKV(dir.read("accept_ra")) == "0");
    CHECK(OKV(ns::readSysctl("net/ipv6/conf/sd0/accept_ra")) == "0");
    REQUIRE_OK(dir.write("accept_ra", "2"));
    CHECK(OKV(dir.read("accept_ra")) == "2");
    // A file that is not there is notFound; a name that is not one file of the directory is refused.
    auto missing = dir.read("no_such_setting_ovl");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().notFound());
    CHECK(missing.error().msg.find("net/ipv6/conf/sd0/no_such_setting_ovl") != std::string::npos);
    for (const char* bad : {"", "../all/forwarding", "a/b", ".", "x y"}) {
      auto r = dir.write(bad, "1");
      REQUIRE_FALSE(r);
      CHECK(r.error().code == Code::InvalidConfig);
      CHECK_FALSE(dir.read(bad));
    }
    auto lo = OKV(ns::SysctlDir::open("net/ipv4/conf/lo"));
    REQUIRE_OK(lo.write("forwarding", rootLo == "1" ? "0" : "1"));
    auto gone = ns::SysctlDir::open("net/ipv6/conf/no-such-dev");
    REQUIRE_FALSE(gone);
    CHECK(gone.error().notFound());
    CHECK_FALSE(ns::SysctlDir::open("net/../../etc"));
  }
  CHECK(OKV(ns::readSysctl("net/ipv4/conf/lo/forwarding")) == rootLo);  // the root namespace's is untouched
  CHECK(sh("ip netns exec " + t.name() + " cat /proc/sys/net/ipv4/conf/lo/forwarding") ==
        (rootLo == "1" ? "0\n" : "1\n"));
}
