#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "gwbridge/rules.hpp"

using namespace ovl;
using namespace ovl::gwbridge;

namespace {

AttachmentRules sample() {
  AttachmentRules a;
  a.network = "net1";
  a.containerId = "ctr1";
  a.ifName = "eth1";
  a.bridge = "cni_gwbridge";
  a.hostVeth = "gwb0123456789ab";
  a.addrs = {*IpNet::parse("172.18.0.2/16")};
  return a;
}

// "family chain" -> rules, and the comments seen.
std::map<std::string, int> perChain(const std::vector<RuleSpec>& rules) {
  std::map<std::string, int> out;
  for (const auto& r : rules) out[std::string(nfnl::familyName(r.family)) + " " + r.chain]++;
  return out;
}

std::vector<std::string> exprNames(const RuleSpec& r) {
  std::vector<std::string> out;
  for (const auto& e : r.exprs) out.push_back(e.name);
  return out;
}

nfnl::Bytes hex(std::string_view h) {
  nfnl::Bytes out;
  for (size_t i = 0; i < h.size();) {
    if (h[i] == ' ') {
      ++i;
      continue;
    }
    out.push_back(uint8_t(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

}  // namespace

TEST_CASE("gwbridge rules: tags") {
  CHECK(ruleTag("net1", "ctr1", "eth1") == "ovl:net1:ctr1:eth1");
  CHECK(isOurTag("ovl:net1:ctr1:eth1"));
  CHECK(!isOurTag("docker"));
  CHECK(isTagOfNetwork("ovl:net1:ctr1:eth1", "net1"));
  CHECK(!isTagOfNetwork("ovl:net1:ctr1:eth1", "net"));
  CHECK(!isTagOfNetwork("ovl:net10:ctr1:eth1", "net1"));
  auto parsed = parseTag("ovl:net1:ctr1:eth1", "net1");
  REQUIRE(parsed);
  CHECK(parsed->first == "ctr1");
  CHECK(parsed->second == "eth1");
  CHECK(!parseTag("ovl:net2:ctr1:eth1", "net1"));

  // Too long for a 128-byte comment, or characters that must not reach rule text: a hashed tag that
  // still names the network for GC.
  std::string longId(120, 'a');
  std::string t = ruleTag("net1", longId, "eth1");
  CHECK(t.starts_with("ovl#"));
  CHECK(t.size() < 64);
  CHECK(isTagOfNetwork(t, "net1"));
  CHECK(!isTagOfNetwork(t, "net2"));
  CHECK(t != ruleTag("net1", longId, "eth2"));
  CHECK(ruleTag("net1", "ctr1", "e\"x").starts_with("ovl#"));
  CHECK(!parseTag(t, "net1"));
}

TEST_CASE("gwbridge rules: the bridge's rules, once per bridge") {
  auto s = settingsOf(sample());
  CHECK(s.stamp() == "ipMasq=true icc=false subnets=172.18.0.0/16 layout=2");
  auto chain = bridgeChainRules(s);
  auto rules = bridgeRules(s);
  REQUIRE(chain);
  REQUIRE(rules);
  // br-<bridge>: established/related accept, dnat accept, not from the bridge drop, icc=false drop.
  CHECK(perChain(*chain) == std::map<std::string, int>{{"inet br-cni_gwbridge", 4}});
  CHECK(exprNames((*chain)[0]) == std::vector<std::string>{"ct", "bitwise", "cmp", "immediate"});
  CHECK(exprNames((*chain)[2]) == std::vector<std::string>{"meta", "cmp", "immediate"});
  CHECK(exprNames((*chain)[3]) == std::vector<std::string>{"immediate"});
  for (const auto& r : *chain) CHECK(r.comment.empty());
  // Outside it, tagged for the bridge: the jump, masquerade, hairpin masquerade from the subnet and from
  // 127.0.0.0/8, the two localnet drops, the two group drops of icc=false.
  CHECK(perChain(*rules) == std::map<std::string, int>{{"inet forward", 1}, {"inet postrouting", 3},
                                                        {"inet localnet", 2}, {"bridge isolation", 2}});
  for (const auto& r : *rules) CHECK(r.comment == "ovl-br:cni_gwbridge");
  CHECK(exprNames((*rules)[0]) == std::vector<std::string>{"meta", "cmp", "immediate"});
  CHECK(exprNames((*rules)[1]) == std::vector<std::string>{"meta", "cmp", "payload", "cmp", "meta", "cmp", "masq"});
  CHECK(exprNames((*rules)[2]) == std::vector<std::string>{"meta", "cmp", "payload", "cmp", "payload", "cmp", "meta",
                                                           "cmp", "ct", "bitwise", "cmp", "masq"});
  // icc=true, no masquerade, dual stack: no drop of routed traffic within the bridge, no bridge-family rule.
  auto a = sample();
  a.ipMasq = false;
  a.icc = true;
  a.addrs.push_back(*IpNet::parse("fd00:18::2/64"));
  s = settingsOf(a);
  CHECK(s.stamp() == "ipMasq=false icc=true subnets=172.18.0.0/16,fd00:18::/64 layout=2");
  CHECK(perChain(bridgeChainRules(s).value()) == std::map<std::string, int>{{"inet br-cni_gwbridge", 3}});
  CHECK(perChain(bridgeRules(s).value()) ==
        std::map<std::string, int>{{"inet forward", 1}, {"inet postrouting", 3}, {"inet localnet", 2}});
  // A prefix that is not whole bytes is masked: load, bitwise, compare.
  a.addrs = {*IpNet::parse("172.18.16.2/20")};
  a.ipMasq = true;
  auto masq = bridgeRules(settingsOf(a)).value()[1];
  CHECK(exprNames(masq) == std::vector<std::string>{"meta", "cmp", "payload", "bitwise", "cmp", "meta", "cmp", "masq"});
}

TEST_CASE("gwbridge rules: the static rules map through the maps") {
  const auto st = staticRules();
  CHECK(perChain(st) == std::map<std::string, int>{{"inet prerouting", 4}, {"inet output", 4}, {"bridge isolation", 1}});
  for (const auto& r : st) CHECK(r.comment == "static");
  CHECK(exprNames(st[0]) == std::vector<std::string>{"meta", "cmp", "payload", "meta", "payload", "lookup", "nat"});
  CHECK(exprNames(st[1]) == std::vector<std::string>{"meta", "cmp", "fib", "cmp", "meta", "payload", "lookup", "nat"});
  // output, IPv6 without a host address: not to ::1.
  CHECK(exprNames(st[7]) ==
        std::vector<std::string>{"meta", "cmp", "payload", "cmp", "fib", "cmp", "meta", "payload", "lookup", "nat"});
}

TEST_CASE("gwbridge rules: networks on one bridge must agree") {
  auto s = settingsOf(sample());
  CHECK(!s.disagreement("ipMasq=true icc=false subnets=172.18.0.0/16 layout=2"));
  // The same settings in a stamp of an earlier layout (no "layout="): no disagreement, but older.
  CHECK(!s.disagreement("ipMasq=true icc=false subnets=172.18.0.0/16"));
  CHECK(BridgeSettings::olderLayout("ipMasq=true icc=false subnets=172.18.0.0/16"));
  CHECK(BridgeSettings::olderLayout("ipMasq=true icc=false subnets=172.18.0.0/16 layout=1"));
  CHECK_FALSE(BridgeSettings::olderLayout(s.stamp()));
  auto why = s.disagreement("ipMasq=true icc=true subnets=172.18.0.0/16");
  REQUIRE(why);
  CHECK(*why == "field 'icc' is false here but true on bridge 'cni_gwbridge', which other networks share: networks "
                "on one bridge must agree");
  why = s.disagreement("ipMasq=true icc=false subnets=10.91.0.0/24");
  REQUIRE(why);
  CHECK(why->starts_with("the IPAM subnet is 172.18.0.0/16 here but 10.91.0.0/24"));
  why = s.disagreement("ipMasq=false icc=false subnets=172.18.0.0/16");
  REQUIRE(why);
  CHECK(why->starts_with("field 'ipMasq' is true here but false"));
}

TEST_CASE("gwbridge rules: port mappings are map elements") {
  auto a = sample();
  CHECK(attachmentElements(a).value().empty());  // no mapping: nothing per attachment
  a.ports = {PortMapping{8080, 80, Proto::Tcp, std::nullopt},
             PortMapping{5353, 53, Proto::Udp, IpAddr::parse("198.51.100.1")},
             PortMapping{9, 9, Proto::Sctp, IpAddr::parse("2001:db8::1")}};
  auto e = attachmentElements(a);
  REQUIRE(e);
  REQUIRE(e->size() == 3);  // the IPv6 host address does not apply to an IPv4 container
  CHECK((*e)[0] == Element{"inet", "ports4", "tcp . 8080", "172.18.0.2 . 80"});
  CHECK((*e)[1] == Element{"inet", "ports4h", "198.51.100.1 . udp . 5353", "172.18.0.2 . 53"});
  CHECK((*e)[2] == Element{"bridge", "hairpin", "\"gwb0123456789ab\" . \"gwb0123456789ab\"", ""});
  // The bytes, as `nft --debug=netlink add element ...` showed them for the same text.
  auto b = gwnames::encodeElement((*e)[0], "ovl:net1:ctr1:eth1");
  REQUIRE(b);
  CHECK(b->key == hex("06000000 1f900000"));
  CHECK(b->data == hex("ac120002 00500000"));
  CHECK(b->comment == "ovl:net1:ctr1:eth1");
  CHECK(gwnames::encodeElement((*e)[1]).value().key == hex("c6336401 11000000 14e90000"));
  CHECK(gwnames::encodeElement((*e)[1]).value().data == hex("ac120002 00350000"));
  CHECK(gwnames::encodeElement((*e)[2]).value().key ==
        hex("67776230313233343536373839616200 67776230313233343536373839616200"));
  // icc=true: no hairpin element (nothing to let back). Dual stack: one element per family.
  a.icc = true;
  a.addrs = {*IpNet::parse("172.18.0.2/16"), *IpNet::parse("fd00:18::2/64"), *IpNet::parse("172.18.0.3/16")};
  e = attachmentElements(a);
  REQUIRE(e);
  REQUIRE(e->size() == 4);
  CHECK((*e)[2] == Element{"inet", "ports6", "tcp . 8080", "fd00:18::2 . 80"});
  CHECK((*e)[3] == Element{"inet", "ports6h", "2001:db8::1 . sctp . 9", "fd00:18::2 . 9"});
}

TEST_CASE("gwbridge rules: nothing unchecked reaches the kernel") {
  auto a = sample();
  a.containerId = "x\" accept; add rule";
  CHECK(!attachmentElements(a));
  a = sample();
  a.bridge = "br\"0";
  CHECK(!attachmentElements(a));
  CHECK(!bridgeRules(settingsOf(a)));
  CHECK(!bridgeChainRules(settingsOf(a)));
  a = sample();
  a.hostVeth = "v;drop";
  CHECK(!attachmentElements(a));
  a = sample();
  a.addrs.clear();
  CHECK(!bridgeRules(settingsOf(a)));
}

TEST_CASE("gwbridge rules: elements, text and bytes both ways") {
  using gwnames::decodeElement;
  using gwnames::encodeElement;
  const std::vector<Element> samples = {
      {"inet", "ports4", "tcp . 8080", "172.18.0.2 . 80"},
      {"inet", "ports4h", "198.51.100.1 . udp . 5353", "172.18.0.2 . 53"},
      {"inet", "ports6", "sctp . 9", "fd00:18::2 . 9"},
      {"inet", "ports6h", "2001:db8::1 . tcp . 65535", "fd00:18::2 . 1"},
      {"bridge", "hairpin", "\"gwb0123456789ab\" . \"x\"", ""}};
  for (const auto& e : samples) {
    auto b = encodeElement(e, "c");
    REQUIRE(b);
    auto back = decodeElement(e.family == "inet" ? nfnl::Family::Inet : nfnl::Family::Bridge, e.set, *b);
    REQUIRE(back);
    CHECK(*back == e);
  }
  // Text that does not fit its set is refused, naming the element.
  for (const Element& bad : std::vector<Element>{{"inet", "ports4", "tcp . 70000", "172.18.0.2 . 80"},
                                                 {"inet", "ports4", "icmp . 80", "172.18.0.2 . 80"},
                                                 {"inet", "ports4", "tcp . 80", "fd00::2 . 80"},
                                                 {"inet", "ports4", "tcp . 80", ""},
                                                 {"inet", "ports4h", "tcp . 80", "172.18.0.2 . 80"},
                                                 {"bridge", "hairpin", "\"a;b\" . \"x\"", ""},
                                                 {"bridge", "hairpin", "\"a\" . \"x\"", "1"},
                                                 {"inet", "other", "tcp . 80", ""},
                                                 {"bridge", "ports4", "tcp . 80", "172.18.0.2 . 80"}}) {
    auto r = encodeElement(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().msg.find(bad.set) != std::string::npos);
  }
  // Bytes that do not fit: skipped when reading.
  CHECK(!decodeElement(nfnl::Family::Inet, "ports4", {.key = hex("06000000"), .data = hex("ac120002 00500000"), .comment = {}}));
  CHECK(!decodeElement(nfnl::Family::Inet, "ports4", {.key = hex("06000000 1f900000"), .data = {}, .comment = {}}));
  CHECK(!decodeElement(nfnl::Family::Inet, "hairpin", {.key = hex("06000000 1f900000"), .data = {}, .comment = {}}));
  // Unknown protocols read as their number.
  CHECK(decodeElement(nfnl::Family::Inet, "ports4", {.key = hex("01000000 00500000"), .data = hex("ac120002 00500000"), .comment = {}})
            .value()
            .key == "1 . 80");
}

TEST_CASE("gwbridge rules: reading a listing back") {
  nfnl::Listing l;
  l.sets = {{.family = nfnl::Family::Inet, .table = "ovl_gwbridge", .name = "ports4",
             .elements = {{.key = hex("06000000 1f900000"), .data = hex("ac120002 00500000"), .comment = "ovl:n:c1:eth0"},
                          {.key = hex("11000000 00350000"), .data = hex("ac120003 00350000"), .comment = {}},
                          {.key = hex("11"), .data = hex("ac120003 00350000"), .comment = {}}}},
            {.family = nfnl::Family::Bridge, .table = "ovl_gwbridge", .name = "hairpin",
             .elements = {{.key = hex("67776231000000000000000000000000 67776231000000000000000000000000"), .data = {},
                           .comment = "ovl:n:c1:eth0"}}},
            {.family = nfnl::Family::Inet, .table = "other", .name = "ports4",
             .elements = {{.key = hex("06000000 1f900000"), .data = hex("ac120002 00500000"), .comment = {}}}}};
  const auto elems = gwnames::elementsOf(l);
  REQUIRE(elems.size() == 3);
  CHECK(elems[0].elem == Element{"inet", "ports4", "tcp . 8080", "172.18.0.2 . 80"});
  CHECK(elems[0].comment == "ovl:n:c1:eth0");
  CHECK(elems[1].elem == Element{"inet", "ports4", "udp . 53", "172.18.0.3 . 53"});
  CHECK(elems[1].comment.empty());
  CHECK(elems[2].elem == Element{"bridge", "hairpin", "\"gwb1\" . \"gwb1\"", ""});
  CHECK(elems[0].elem.str() == "inet ovl_gwbridge ports4 { tcp . 8080 : 172.18.0.2 . 80 }");
}
