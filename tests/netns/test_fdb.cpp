#include <linux/neighbour.h>

#include <algorithm>

#include "fixture.hpp"
#include "nl/fdb.hpp"
#include "nl/vxlan.hpp"

using namespace ovl;
using namespace ovl::test;

namespace {
bool hasDst(const std::vector<nl::FdbEntry>& v, const MacAddr& mac, const std::string& dst) {
  auto want = *IpAddr::parse(dst);
  return std::any_of(v.begin(), v.end(), [&](const nl::FdbEntry& e) { return e.mac == mac && e.dst == want; });
}
int countDstInBridgeTool(const TestNetns& t, const std::string& dev, const std::string& dst) {
  auto j = shJson("bridge -n " + t.name() + " -j fdb show dev " + dev);
  int n = 0;
  REQUIRE(j.IsArray());
  for (auto& e : j.GetArray())
    if (e.HasMember("dst") && jstr(e, "dst") == dst &&
        jstr(e, "mac") == "00:00:00:00:00:00")
      ++n;
  return n;
}
}  // namespace

TEST_CASE("FDB flood list on a vxlan device: append two, dump, delete one, delete again") {
  TestNetns t;
  nl::VxlanSpec spec;
  spec.name = "ovx-fdb";
  spec.vni = 100;
  spec.local = *IpAddr::parse("198.51.100.1");
  auto vx = OKV(nl::ensureVxlan(t.sock, spec));
  nl::VxlanSpec other = spec;
  other.name = "ovx-other";
  other.vni = 101;
  auto vx2 = OKV(nl::ensureVxlan(t.sock, other));
  int ifindex = vx.link.index;
  MacAddr zero(std::array<uint8_t, 6>{});

  REQUIRE_OK(nl::appendFdb(t.sock, ifindex, zero, *IpAddr::parse("198.51.100.2")));
  REQUIRE_OK(nl::appendFdb(t.sock, ifindex, zero, *IpAddr::parse("198.51.100.3")));
  REQUIRE_OK(nl::appendFdb(t.sock, ifindex, zero, *IpAddr::parse("198.51.100.3")));  // again: success
  REQUIRE_OK(nl::appendFdb(t.sock, vx2.link.index, zero, *IpAddr::parse("198.51.100.9")));

  auto fdb = OKV(nl::dumpFdb(t.sock, ifindex));
  CHECK(hasDst(fdb, zero, "198.51.100.2"));
  CHECK(hasDst(fdb, zero, "198.51.100.3"));
  CHECK_FALSE(hasDst(fdb, zero, "198.51.100.9"));  // other device's entries are not listed
  for (auto& e : fdb) {
    CHECK(e.ifindex == ifindex);
    if (e.dst) {
      CHECK((e.flags & NTF_SELF) != 0);
      CHECK((e.state & NUD_PERMANENT) != 0);
    }
  }
  CHECK(countDstInBridgeTool(t, "ovx-fdb", "198.51.100.2") == 1);
  CHECK(countDstInBridgeTool(t, "ovx-fdb", "198.51.100.3") == 1);

  REQUIRE_OK(nl::deleteFdb(t.sock, ifindex, zero, *IpAddr::parse("198.51.100.2")));
  fdb = OKV(nl::dumpFdb(t.sock, ifindex));
  CHECK_FALSE(hasDst(fdb, zero, "198.51.100.2"));
  CHECK(hasDst(fdb, zero, "198.51.100.3"));
  CHECK(countDstInBridgeTool(t, "ovx-fdb", "198.51.100.2") == 0);
  CHECK(countDstInBridgeTool(t, "ovx-fdb", "198.51.100.3") == 1);
  REQUIRE_OK(nl::deleteFdb(t.sock, ifindex, zero, *IpAddr::parse("198.51.100.2")));  // absent: success

  // A unicast entry, then deleting without dst removes it.
  auto mac = *MacAddr::parse("02:00:00:00:01:01");
  REQUIRE_OK(nl::appendFdb(t.sock, ifindex, mac, *IpAddr::parse("198.51.100.4")));
  CHECK(hasDst(OKV(nl::dumpFdb(t.sock, ifindex)), mac, "198.51.100.4"));
  REQUIRE_OK(nl::deleteFdb(t.sock, ifindex, mac, std::nullopt));
  CHECK_FALSE(hasDst(OKV(nl::dumpFdb(t.sock, ifindex)), mac, "198.51.100.4"));
  REQUIRE_OK(nl::deleteFdb(t.sock, ifindex, mac, std::nullopt));

  // Device gone: deleting is still success, appending is an error naming the entry.
  REQUIRE_OK(nl::deleteFdb(t.sock, 99999, zero, *IpAddr::parse("198.51.100.3")));
  auto bad = nl::appendFdb(t.sock, 99999, zero, *IpAddr::parse("198.51.100.3"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().msg.find("198.51.100.3") != std::string::npos);
}
