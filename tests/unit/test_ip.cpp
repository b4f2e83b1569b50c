#include <doctest/doctest.h>

#include "util/ip.hpp"

using namespace ovl;

TEST_CASE("IpAddr parses, prints and steps IPv4 and IPv6") {
  auto a = IpAddr::parse("10.0.0.255");
  REQUIRE(a);
  CHECK(a->isV4());
  CHECK(a->next().str() == "10.0.1.0");
  CHECK(a->prev().str() == "10.0.0.254");
  CHECK(IpAddr::parse("255.255.255.255")->next().str() == "0.0.0.0");
  auto b = IpAddr::parse("fd00::ffff");
  REQUIRE(b);
  CHECK(b->isV6());
  CHECK(b->next().str() == "fd00::1:0");
  CHECK(IpAddr::parse("::ffff:10.1.2.3")->str() == "10.1.2.3");
  CHECK_FALSE(IpAddr::parse("10.0.0.256"));
  CHECK_FALSE(IpAddr::parse("10.0.0"));
  CHECK_FALSE(IpAddr::parse(""));
  CHECK_FALSE(IpAddr::parse("fd00::1/64"));
  CHECK(*IpAddr::parse("10.0.0.1") < *IpAddr::parse("10.0.0.2"));
  CHECK(*IpAddr::parse("10.0.0.1") < *IpAddr::parse("::1"));
}

TEST_CASE("IpNet parses CIDRs and answers containment and overlap") {
  auto n = IpNet::parse("10.0.0.5/24");
  REQUIRE(n);
  CHECK(n->network().str() == "10.0.0.0");
  CHECK(n->broadcast().str() == "10.0.0.255");
  CHECK(n->str() == "10.0.0.5/24");
  CHECK(n->maskStr() == "255.255.255.0");
  CHECK(n->contains(*IpAddr::parse("10.0.0.200")));
  CHECK_FALSE(n->contains(*IpAddr::parse("10.0.1.1")));
  CHECK_FALSE(n->contains(*IpAddr::parse("fd00::1")));
  CHECK(n->overlaps(*IpNet::parse("10.0.0.128/25")));
  CHECK(n->overlaps(*IpNet::parse("10.0.0.0/8")));
  CHECK_FALSE(n->overlaps(*IpNet::parse("10.0.1.0/24")));
  CHECK(IpNet::parse("fd00::/64")->broadcast().str() == "fd00::ffff:ffff:ffff:ffff");
  CHECK_FALSE(IpNet::parse("10.0.0.0/33"));
  CHECK_FALSE(IpNet::parse("10.0.0.0/"));
  CHECK_FALSE(IpNet::parse("10.0.0.0/2x"));
  CHECK_FALSE(IpNet::parse("10.0.0.0"));
  CHECK(IpNet::parse("10.0.0.7", false)->prefix() == 32);
  CHECK(IpNet::parse("0.0.0.0/0")->contains(*IpAddr::parse("203.0.113.9")));
}

TEST_CASE("MacAddr parses and derives stable locally administered addresses") {
  auto m = MacAddr::parse("02:00:00:00:00:50");
  REQUIRE(m);
  CHECK(m->str() == "02:00:00:00:00:50");
  CHECK(MacAddr::parse("02-00-00-AA-bb-50")->str() == "02:00:00:aa:bb:50");
  CHECK_FALSE(MacAddr::parse("02:00:00:00:00"));
  CHECK_FALSE(MacAddr::parse("02:00:00:00:00:5g"));
  CHECK_FALSE(MacAddr::parse("02:00:00:00:00:500"));
  auto s1 = MacAddr::fromSeed("container-1/eth0");
  auto s2 = MacAddr::fromSeed("container-1/eth0");
  CHECK(s1 == s2);
  CHECK(s1 != MacAddr::fromSeed("container-2/eth0"));
  CHECK((s1.bytes()[0] & 0x03) == 0x02);
}

TEST_CASE("interface names and identifiers are validated") {
  CHECK(validateIfName("eth0", "CNI_IFNAME"));
  CHECK(validateIfName("abcdefghijklmno", "CNI_IFNAME"));
  auto e = validateIfName("abcdefghijklmnop", "CNI_IFNAME");
  REQUIRE_FALSE(e);
  CHECK(e.error().code == Code::InvalidEnv);
  CHECK(e.error().msg.find("CNI_IFNAME 'abcdefghijklmnop'") != std::string::npos);
  CHECK_FALSE(validateIfName("a/b", "x"));
  CHECK_FALSE(validateIfName("a:b", "x"));
  CHECK_FALSE(validateIfName("a b", "x"));
  CHECK_FALSE(validateIfName(".", "x"));
  CHECK_FALSE(validateIfName("..", "x"));
  CHECK_FALSE(validateIfName("", "x"));
  CHECK(isValidIdentifier("abc-1.2_3"));
  CHECK_FALSE(isValidIdentifier("-abc"));
  CHECK_FALSE(isValidIdentifier("a;b"));
  CHECK_FALSE(isValidIdentifier("a/b"));
  CHECK_FALSE(isValidIdentifier(""));
}
