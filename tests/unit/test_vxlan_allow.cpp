#include <doctest/doctest.h>

#include "vxlan/allow_rules.hpp"

using namespace ovl;
using namespace ovl::vxlan;

namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

// What `nft -j list table inet ovl_vxlan` printed on nft 1.0.6 (metainfo trimmed).
constexpr const char* kListing = R"({"nftables": [{"metainfo": {"json_schema_version": 1}},
  {"table": {"family": "inet", "name": "ovl_vxlan", "handle": 1}},
  {"set": {"family": "inet", "name": "allow4", "table": "ovl_vxlan", "type": ["ipv4_addr", "integer"], "handle": 2,
           "elem": [{"concat": ["198.51.100.2", 42]}, {"concat": ["198.51.100.3", 16777215]},
                    {"elem": {"val": {"concat": ["198.51.100.4", 42]}, "counter": {"packets": 0}}},
                    {"concat": ["2001:db8::9", 42]}, {"concat": ["198.51.100.5", 16777216]}, {"concat": ["x", 1]}]}},
  {"set": {"family": "inet", "name": "allow6", "table": "ovl_vxlan", "type": ["ipv6_addr", "integer"], "handle": 3,
           "elem": [{"concat": ["2001:db8::1", 7]}]}},
  {"set": {"family": "inet", "name": "other", "table": "ovl_vxlan", "elem": [{"concat": ["198.51.100.8", 7]}]}},
  {"chain": {"family": "inet", "table": "ovl_vxlan", "name": "input", "handle": 4, "type": "filter",
             "hook": "input", "prio": 0, "policy": "accept"}}]})";

}  // namespace

TEST_CASE("vxlan allow-list: listing") {
  auto l = parseAllowListing(kListing);
  REQUIRE(l);
  CHECK(l->enforced);
  // Wrong family for the set, a VNI beyond 24 bits, a bad address and foreign sets are skipped.
  CHECK(l->entries == std::set<AllowEntry>{{ip("198.51.100.2"), 42}, {ip("198.51.100.3"), 16777215},
                                           {ip("198.51.100.4"), 42}, {ip("2001:db8::1"), 7}});
  CHECK(l->vteps(42) == std::set<IpAddr>{ip("198.51.100.2"), ip("198.51.100.4")});
  CHECK(l->vteps(8).empty());

  auto bare = parseAllowListing(R"({"nftables": [{"set": {"table": "ovl_vxlan", "name": "allow4"}}]})");
  REQUIRE(bare);
  CHECK_FALSE(bare->enforced);
  CHECK(bare->entries.empty());
  CHECK_FALSE(parseAllowListing("{\"nftables\": 3}"));
  CHECK_FALSE(parseAllowListing("not json"));
}

TEST_CASE("vxlan allow-list: plan per VNI, add-only or exact") {
  AllowListing have;
  have.entries = {{ip("198.51.100.2"), 42}, {ip("198.51.100.3"), 42}, {ip("198.51.100.3"), 43}};
  const std::set<IpAddr> want{ip("198.51.100.3"), ip("2001:db8::1")};

  auto addOnly = planAllow(have, 42, want, false);
  CHECK(addOnly.add == std::vector<AllowEntry>{{ip("2001:db8::1"), 42}});
  CHECK(addOnly.remove.empty());

  auto exact = planAllow(have, 42, want, true);
  CHECK(exact.add == std::vector<AllowEntry>{{ip("2001:db8::1"), 42}});
  CHECK(exact.remove == std::vector<AllowEntry>{{ip("198.51.100.2"), 42}});  // never another VNI's pairs

  CHECK(planAllow(have, 43, {ip("198.51.100.3")}, true).empty());
  auto forget = planAllow(have, 43, {}, true);
  CHECK(forget.remove == std::vector<AllowEntry>{{ip("198.51.100.3"), 43}});
}

TEST_CASE("vxlan allow-list: nft text") {
  CHECK(allowTableText() ==
        "add table inet ovl_vxlan\n"
        "add set inet ovl_vxlan allow4 { typeof ip saddr . @th,96,24; }\n"
        "add set inet ovl_vxlan allow6 { typeof ip6 saddr . @th,96,24; }\n");
  CHECK(allowElementsText("add", {}) == "");
  CHECK(allowElementsText("delete", {{ip("198.51.100.2"), 42}, {ip("2001:db8::1"), 7}, {ip("198.51.100.3"), 42}}) ==
        "delete element inet ovl_vxlan allow4 { 198.51.100.2 . 42, 198.51.100.3 . 42 }\n"
        "delete element inet ovl_vxlan allow6 { 2001:db8::1 . 7 }\n");
  AllowPlan p{{{ip("198.51.100.4"), 9}}, {{ip("198.51.100.5"), 9}}};
  CHECK(allowPlanText(p) == allowTableText() + "delete element inet ovl_vxlan allow4 { 198.51.100.5 . 9 }\n" +
                                "add element inet ovl_vxlan allow4 { 198.51.100.4 . 9 }\n");

  const std::string e = enforceText(4789);
  CHECK(e.rfind(allowTableText(), 0) == 0);
  CHECK(e.find("add chain inet ovl_vxlan input { type filter hook input priority filter; policy accept; }\n"
               "flush chain inet ovl_vxlan input\n") != std::string::npos);
  CHECK(e.find("add rule inet ovl_vxlan input udp dport 4789 ip saddr . @th,96,24 != @allow4 counter drop comment") !=
        std::string::npos);
  CHECK(e.find("add rule inet ovl_vxlan input udp dport 4789 ip6 saddr . @th,96,24 != @allow6 counter drop comment") !=
        std::string::npos);
  CHECK(enforceText(8472).find("udp dport 8472 ") != std::string::npos);
  CHECK(relaxText() == "delete chain inet ovl_vxlan input\n");
}
