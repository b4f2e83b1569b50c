#include <doctest/doctest.h>

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

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
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
  CHECK(s.stamp() == "ipMasq=true icc=false subnets=172.18.0.0/16");
  auto text = bridgeRulesText(s);
  REQUIRE(text);
  const std::string tag = " comment \"ovl-br:cni_gwbridge\"\n";
  CHECK(*text ==
        "add chain inet ovl_gwbridge br-cni_gwbridge { comment \"ipMasq=true icc=false subnets=172.18.0.0/16\"; }\n"
        "add rule inet ovl_gwbridge br-cni_gwbridge ct state established,related accept\n"
        "add rule inet ovl_gwbridge br-cni_gwbridge ct status dnat accept\n"
        "add rule inet ovl_gwbridge br-cni_gwbridge iifname != \"cni_gwbridge\" drop\n"
        "add rule inet ovl_gwbridge br-cni_gwbridge drop\n"
        "add rule inet ovl_gwbridge forward oifname \"cni_gwbridge\" jump br-cni_gwbridge" + tag +
        "add rule inet ovl_gwbridge postrouting ip saddr 172.18.0.0/16 oifname != \"cni_gwbridge\" masquerade" + tag +
        "add rule inet ovl_gwbridge postrouting ip saddr { 172.18.0.0/16, 127.0.0.0/8 } ip daddr 172.18.0.0/16 "
        "oifname \"cni_gwbridge\" ct status dnat masquerade" + tag +
        "add rule inet ovl_gwbridge localnet iifname \"cni_gwbridge\" ip daddr 127.0.0.0/8 drop" + tag +
        "add rule inet ovl_gwbridge localnet iifname \"cni_gwbridge\" ip saddr 127.0.0.0/8 drop" + tag +
        "add rule bridge ovl_gwbridge isolation meta iifgroup " + std::to_string(gwnames::bridgeGroup("cni_gwbridge")) +
        " drop" + tag + "add rule bridge ovl_gwbridge isolation meta oifgroup " +
        std::to_string(gwnames::bridgeGroup("cni_gwbridge")) + " drop" + tag);
  // icc=true, no masquerade, dual stack: no drop of routed traffic within the bridge, no bridge-family rule.
  auto a = sample();
  a.ipMasq = false;
  a.icc = true;
  a.addrs.push_back(*IpNet::parse("fd00:18::2/64"));
  s = settingsOf(a);
  CHECK(s.stamp() == "ipMasq=false icc=true subnets=172.18.0.0/16,fd00:18::/64");
  text = bridgeRulesText(s);
  REQUIRE(text);
  CHECK(text->find("oifname != \"cni_gwbridge\" masquerade") == std::string::npos);
  CHECK(count(*text, "ct status dnat masquerade") == 2);
  CHECK(text->find("ip6 saddr fd00:18::/64 ip6 daddr fd00:18::/64 oifname \"cni_gwbridge\"") != std::string::npos);
  CHECK(text->find("br-cni_gwbridge drop\n") == std::string::npos);
  CHECK(text->find("add rule bridge") == std::string::npos);
  CHECK(count(*text, "add rule inet ovl_gwbridge br-cni_gwbridge ") == 3);
}

TEST_CASE("gwbridge rules: networks on one bridge must agree") {
  auto s = settingsOf(sample());
  CHECK(!s.disagreement("ipMasq=true icc=false subnets=172.18.0.0/16"));
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
  CHECK(addElementsText({(*e)[0], (*e)[2]}, "ovl:net1:ctr1:eth1") ==
        "add element inet ovl_gwbridge ports4 { tcp . 8080 comment \"ovl:net1:ctr1:eth1\" : 172.18.0.2 . 80 }\n"
        "add element bridge ovl_gwbridge hairpin { \"gwb0123456789ab\" . \"gwb0123456789ab\" comment "
        "\"ovl:net1:ctr1:eth1\" }\n");
  // Deleting: added first (a no-op when it is there with that value), so absent is not an error.
  CHECK(deleteElementsText({(*e)[0]}) ==
        "add element inet ovl_gwbridge ports4 { tcp . 8080 : 172.18.0.2 . 80 }\n"
        "delete element inet ovl_gwbridge ports4 { tcp . 8080 }\n");
  // icc=true: no hairpin element (nothing to let back). Dual stack: one element per family.
  a.icc = true;
  a.addrs = {*IpNet::parse("172.18.0.2/16"), *IpNet::parse("fd00:18::2/64"), *IpNet::parse("172.18.0.3/16")};
  e = attachmentElements(a);
  REQUIRE(e);
  REQUIRE(e->size() == 4);
  CHECK((*e)[2] == Element{"inet", "ports6", "tcp . 8080", "fd00:18::2 . 80"});
  CHECK((*e)[3] == Element{"inet", "ports6h", "2001:db8::1 . sctp . 9", "fd00:18::2 . 9"});
}

TEST_CASE("gwbridge rules: nothing unchecked reaches the rule text") {
  auto a = sample();
  a.containerId = "x\" accept; add rule";
  CHECK(!attachmentElements(a));
  a = sample();
  a.bridge = "br\"0";
  CHECK(!attachmentElements(a));
  CHECK(!bridgeRulesText(settingsOf(a)));
  a = sample();
  a.hostVeth = "v;drop";
  CHECK(!attachmentElements(a));
  a = sample();
  a.addrs.clear();
  CHECK(!bridgeRulesText(settingsOf(a)));
}

TEST_CASE("gwbridge rules: the table layout is created idempotently") {
  auto t = ensureTablesText();
  CHECK(count(t, "add table ") == 2);
  CHECK(t.find("add chain inet ovl_gwbridge prerouting { type nat hook prerouting priority dstnat;") !=
        std::string::npos);
  CHECK(t.find("add chain inet ovl_gwbridge output { type nat hook output priority -100;") != std::string::npos);
  CHECK(t.find("add chain inet ovl_gwbridge postrouting { type nat hook postrouting priority srcnat;") !=
        std::string::npos);
  CHECK(t.find("add chain inet ovl_gwbridge forward { type filter hook forward priority filter; policy accept; }") !=
        std::string::npos);
  CHECK(t.find("add chain bridge ovl_gwbridge isolation { type filter hook forward priority filter;") !=
        std::string::npos);
  CHECK(t.find("add map inet ovl_gwbridge ports4 { type inet_proto . inet_service : ipv4_addr . inet_service; }") !=
        std::string::npos);
  CHECK(t.find("add set bridge ovl_gwbridge hairpin { type ifname . ifname; }") != std::string::npos);
  CHECK(t.find("flush") == std::string::npos);
  CHECK(t.find("delete") == std::string::npos);
}

TEST_CASE("gwbridge rules: reading a listing back") {
  // Trimmed from `nft -j -a list table inet ovl_gwbridge` (nftables 1.0.6).
  const char* listing = R"({"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
    {"table": {"family": "inet", "name": "ovl_gwbridge", "handle": 1}},
    {"chain": {"family": "inet", "table": "ovl_gwbridge", "name": "prerouting", "handle": 1, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}},
    {"rule": {"family": "inet", "table": "ovl_gwbridge", "chain": "prerouting", "handle": 4, "comment": "ovl:net1:ctr1:eth1", "expr": [
      {"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv4"}},
      {"match": {"op": "==", "left": {"fib": {"result": "type", "flags": ["daddr"]}}, "right": "local"}},
      {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 5353}},
      {"dnat": {"family": "ip", "addr": "172.18.0.2", "port": 53}}]}},
    {"rule": {"family": "inet", "table": "ovl_gwbridge", "chain": "output", "handle": 5, "comment": "ovl:net1:ctr1:eth1", "expr": [
      {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "198.51.100.1"}},
      {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 80}},
      {"dnat": {"family": "ip", "addr": "172.18.0.2", "port": 8080}}]}},
    {"rule": {"family": "inet", "table": "ovl_gwbridge", "chain": "postrouting", "handle": 7, "comment": "ovl:net1:ctr1:eth1", "expr": [
      {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "172.18.0.2"}},
      {"match": {"op": "!=", "left": {"meta": {"key": "oifname"}}, "right": "cni_gwbridge"}},
      {"masquerade": null}]}},
    {"rule": {"family": "inet", "table": "other", "chain": "postrouting", "handle": 8, "expr": []}},
    {"rule": {"family": "inet", "table": "ovl_gwbridge", "chain": "postrouting", "handle": 9, "expr": []}}
  ]})";
  auto rules = parseListing(listing);
  REQUIRE(rules);
  REQUIRE(rules->size() == 4);
  const auto& d = (*rules)[0];
  CHECK(d.family == "inet");
  CHECK(d.chain == "prerouting");
  CHECK(d.handle == 4);
  CHECK(d.comment == "ovl:net1:ctr1:eth1");
  CHECK(d.proto == Proto::Udp);
  CHECK(d.dport == 5353);
  CHECK(!d.hostIp);
  CHECK(d.dnatAddr == IpAddr::parse("172.18.0.2"));
  CHECK((*rules)[1].hostIp == IpAddr::parse("198.51.100.1"));
  CHECK((*rules)[1].proto == Proto::Tcp);
  CHECK((*rules)[2].saddr == IpAddr::parse("172.18.0.2"));
  CHECK((*rules)[3].comment.empty());

  CHECK(deleteText({(*rules)[0], (*rules)[2]}) ==
        "delete rule inet ovl_gwbridge prerouting handle 4\n"
        "delete rule inet ovl_gwbridge postrouting handle 7\n");
  ListedRule foreign = (*rules)[0];
  foreign.family = "ip";
  CHECK(deleteText({foreign}).empty());

  CHECK(!parseListing("not json"));

  // Elements, from `nft -j list table inet ovl_gwbridge` and `... bridge ovl_gwbridge`.
  const char* maps = R"({"nftables": [
    {"map": {"family": "inet", "name": "ports4", "table": "ovl_gwbridge", "type": ["inet_proto", "inet_service"],
      "handle": 3, "map": "ipv4_addr . inet_service", "elem": [
      [{"elem": {"val": {"concat": ["tcp", 8080]}, "comment": "ovl:n:c1:eth0"}}, {"concat": ["172.18.0.2", 80]}],
      [{"concat": ["udp", 53]}, {"concat": ["172.18.0.3", 53]}]]}},
    {"set": {"family": "bridge", "name": "hairpin", "table": "ovl_gwbridge", "type": ["ifname", "ifname"],
      "handle": 4, "elem": [{"elem": {"val": {"concat": ["gwb1", "gwb1"]}, "comment": "ovl:n:c1:eth0"}}]}},
    {"chain": {"family": "inet", "table": "ovl_gwbridge", "name": "br-cni_gwbridge", "handle": 9}}]})";
  auto elems = parseElements(maps);
  REQUIRE(elems);
  REQUIRE(elems->size() == 3);
  CHECK((*elems)[0].elem == Element{"inet", "ports4", "tcp . 8080", "172.18.0.2 . 80"});
  CHECK((*elems)[0].comment == "ovl:n:c1:eth0");
  CHECK((*elems)[1].elem == Element{"inet", "ports4", "udp . 53", "172.18.0.3 . 53"});
  CHECK((*elems)[1].comment.empty());
  CHECK((*elems)[2].elem == Element{"bridge", "hairpin", "\"gwb1\" . \"gwb1\"", ""});
  CHECK(parseChains(maps).value() == std::vector<std::string>{"br-cni_gwbridge"});
  CHECK(!parseListing(R"({"x":1})"));
}
