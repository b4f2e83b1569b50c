#include <doctest/doctest.h>

#include <string>

#include "vxlan/allow_rules.hpp"

using namespace ovl;
using namespace ovl::vxlan;

namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

nfnl::Bytes hex(std::string_view h) {
  nfnl::Bytes out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) {
    while (h[i] == ' ') ++i;
    out.push_back(uint8_t(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

nfnl::ListedSet set(std::string name, std::vector<nfnl::Bytes> keys) {
  nfnl::ListedSet s{.family = nfnl::Family::Inet, .table = "ovl_vxlan", .name = std::move(name), .elements = {}};
  for (auto& k : keys) s.elements.push_back({.key = std::move(k), .data = {}, .comment = {}});
  return s;
}

}  // namespace

TEST_CASE("vxlan allow-list: listing") {
  nfnl::Listing l;
  l.tables = {{nfnl::Family::Inet, "ovl_vxlan"}};
  l.chains = {{.family = nfnl::Family::Inet, .table = "ovl_vxlan", .name = "input", .comment = {}, .base = true}};
  l.sets = {set("allow4", {hex("c6336402 00002a00"), hex("c6336403 ffffff00"), hex("c6336404 00002a"),
                           hex("20010db8000000000000000000000001 00000700")}),
            set("allow6", {hex("20010db8000000000000000000000001 00000700"), hex("c6336405 00002a00")}),
            set("other", {hex("c6336408 00000700")})};
  const AllowListing a = readAllowListing(l);
  CHECK(a.enforced);
  // Keys of the wrong length for the set (a short one, the other family's) and foreign sets are skipped.
  CHECK(a.entries == std::set<AllowEntry>{{ip("198.51.100.2"), 42}, {ip("198.51.100.3"), 16777215},
                                          {ip("2001:db8::1"), 7}});
  CHECK(a.vteps(42) == std::set<IpAddr>{ip("198.51.100.2")});
  CHECK(a.vteps(8).empty());

  l.chains[0].base = false;  // a regular chain of that name drops nothing
  CHECK_FALSE(readAllowListing(l).enforced);
  CHECK(readAllowListing(nfnl::Listing{}).entries.empty());
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

TEST_CASE("vxlan allow-list: elements and sets as nft writes them") {
  // `nft --debug=netlink add element inet t allow4 { 198.51.100.2 . 42 }` showed "026433c6 002a0000".
  CHECK(allowElement({ip("198.51.100.2"), 42}).key == hex("c6336402 00002a00"));
  CHECK(allowElement({ip("2001:db8::1"), 0xabcdef}).key == hex("20010db8000000000000000000000001 abcdef00"));
  // The user data nft 1.0.6 wrote for "typeof ip saddr . @th,96,24" (`nft --debug=mnl`), byte for byte.
  const auto v4 = allowSet(false);
  CHECK(v4.userdata == hex("0004 00000000 0346 00040d000000 013e 0014 000407000000 010c 00040c000000 01040b000000"
                           "0126 000407000000 011e 000400000000 010400000000 020403000000 030460000000 040418000000"));
  CHECK(v4.keyType == 0x1c4);
  CHECK(v4.keyLen == 8);
  const auto v6 = allowSet(true);
  CHECK(v6.userdata == hex("0004 00000000 0346 00040d000000 013e 0014 000407000000 010c 00040d000000 010408000000"
                           "0126 000407000000 011e 000400000000 010400000000 020403000000 030460000000 040418000000"));
  CHECK(v6.keyType == 0x204);
  CHECK(v6.keyLen == 20);
}
