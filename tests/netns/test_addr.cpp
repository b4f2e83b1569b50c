#include <linux/if_addr.h>
#include <sys/socket.h>

#include <algorithm>

#include "fixture.hpp"
#include "nl/addr.hpp"
#include "nl/link.hpp"

using namespace ovl;
using namespace ovl::test;

namespace {
const nl::AddrInfo* findAddr(const std::vector<nl::AddrInfo>& v, const IpNet& net) {
  auto it = std::find_if(v.begin(), v.end(), [&](const nl::AddrInfo& a) { return a.net == net; });
  return it == v.end() ? nullptr : &*it;
}
}  // namespace

TEST_CASE("addAddress / dumpAddresses / deleteAddress for IPv4 and IPv6") {
  TestNetns t;
  addTestLink(t, "d0");
  auto d0 = OKV(nl::requireLink(t.sock, "d0"));
  REQUIRE_OK(nl::setLinkUp(t.sock, d0.index, true));

  auto v4 = *IpNet::parse("10.1.0.5/24");
  auto v6 = *IpNet::parse("fd00::5/64");
  REQUIRE_OK(nl::addAddress(t.sock, d0.index, v4));
  REQUIRE_OK(nl::addAddress(t.sock, d0.index, v4));  // already there: success
  REQUIRE_OK(nl::addAddress(t.sock, d0.index, v6, true));

  auto all = OKV(nl::dumpAddresses(t.sock, d0.index, 0));
  auto* a4 = findAddr(all, v4);
  auto* a6 = findAddr(all, v6);
  REQUIRE(a4);
  REQUIRE(a6);
  CHECK(a4->ifindex == d0.index);
  CHECK(a4->scope == 0);  // RT_SCOPE_UNIVERSE
  CHECK((a6->flags & IFA_F_NODAD) != 0);
  CHECK((a6->flags & IFA_F_TENTATIVE) == 0);

  auto only4 = OKV(nl::dumpAddresses(t.sock, d0.index, AF_INET));
  CHECK(only4.size() == 1);
  auto lo = OKV(nl::requireLink(t.sock, "lo"));
  CHECK_FALSE(findAddr(OKV(nl::dumpAddresses(t.sock, lo.index, 0)), v4));

  auto j = shJson(t.ip() + "-j addr show dev d0");
  bool saw4 = false, saw6 = false;
  auto& addrInfo = jget(j, "0.addr_info");
  REQUIRE(addrInfo.IsArray());
  for (auto& ai : addrInfo.GetArray()) {
    std::string local = jstr(ai, "local");
    if (local == "10.1.0.5") {
      saw4 = true;
      CHECK(jint(ai, "prefixlen") == 24);
      REQUIRE(ai.HasMember("broadcast"));
      CHECK(jstr(ai, "broadcast") == "10.1.0.255");
    }
    if (local == "fd00::5") {
      saw6 = true;
      CHECK(jint(ai, "prefixlen") == 64);
      CHECK(ai.HasMember("nodad"));
    }
  }
  CHECK(saw4);
  CHECK(saw6);

  REQUIRE_OK(nl::deleteAddress(t.sock, d0.index, v4));
  REQUIRE_OK(nl::deleteAddress(t.sock, d0.index, v4));  // absent: success
  REQUIRE_OK(nl::deleteAddress(t.sock, d0.index, v6));
  REQUIRE_OK(nl::deleteAddress(t.sock, d0.index, v6));
  REQUIRE_OK(nl::deleteAddress(t.sock, 99999, v6));  // absent interface: success
  auto after = OKV(nl::dumpAddresses(t.sock, d0.index, 0));
  CHECK_FALSE(findAddr(after, v4));
  CHECK_FALSE(findAddr(after, v6));

  auto bad = nl::addAddress(t.sock, 99999, v4);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().msg.find("10.1.0.5/24") != std::string::npos);
}
