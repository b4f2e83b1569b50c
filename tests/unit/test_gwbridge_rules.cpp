#include <doctest/doctest.h>

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

TEST_CASE("gwbridge rules: masquerade and icc only") {
  auto text = ruleText(sample());
  REQUIRE(text);
  CHECK(*text ==
        "add rule inet ovl_gwbridge postrouting ip saddr 172.18.0.2 oifname != \"cni_gwbridge\" masquerade comment "
        "\"ovl:net1:ctr1:eth1\"\n"
        "add rule inet ovl_gwbridge forward oifname \"cni_gwbridge\" ct state established,related accept comment "
        "\"ovl:net1:ctr1:eth1\"\n"
        "add rule inet ovl_gwbridge forward oifname \"cni_gwbridge\" ct status dnat accept comment "
        "\"ovl:net1:ctr1:eth1\"\n"
        "add rule inet ovl_gwbridge forward oifname \"cni_gwbridge\" iifname != \"cni_gwbridge\" drop comment "
        "\"ovl:net1:ctr1:eth1\"\n"
        "add rule inet ovl_gwbridge forward iifname \"cni_gwbridge\" oifname \"cni_gwbridge\" ip saddr 172.18.0.2 drop "
        "comment \"ovl:net1:ctr1:eth1\"\n"
        "add rule inet ovl_gwbridge forward iifname \"cni_gwbridge\" oifname \"cni_gwbridge\" ip daddr 172.18.0.2 drop "
        "comment \"ovl:net1:ctr1:eth1\"\n"
        "add rule inet ovl_gwbridge localnet iifname \"cni_gwbridge\" ip daddr 127.0.0.0/8 drop comment "
        "\"ovl:net1:ctr1:eth1\"\n"
        "add rule inet ovl_gwbridge localnet iifname \"cni_gwbridge\" ip saddr 127.0.0.0/8 drop comment "
        "\"ovl:net1:ctr1:eth1\"\n"
        "add rule bridge ovl_gwbridge forward iifname \"gwb0123456789ab\" oifname != \"gwb0123456789ab\" drop comment "
        "\"ovl:net1:ctr1:eth1\"\n"
        "add rule bridge ovl_gwbridge forward oifname \"gwb0123456789ab\" iifname != \"gwb0123456789ab\" drop comment "
        "\"ovl:net1:ctr1:eth1\"\n");
}

TEST_CASE("gwbridge rules: the forward filter") {
  // icc=true and no masquerade still filter what is routed into the bridge: only the bridge-wide rules.
  auto a = sample();
  a.ipMasq = false;
  a.icc = true;
  const std::string tag = " comment \"ovl:net1:ctr1:eth1\"\n";
  CHECK(ruleText(a).value() ==
        "add rule inet ovl_gwbridge forward oifname \"cni_gwbridge\" ct state established,related accept" + tag +
            "add rule inet ovl_gwbridge forward oifname \"cni_gwbridge\" ct status dnat accept" + tag +
            "add rule inet ovl_gwbridge forward oifname \"cni_gwbridge\" iifname != \"cni_gwbridge\" drop" + tag +
            "add rule inet ovl_gwbridge localnet iifname \"cni_gwbridge\" ip daddr 127.0.0.0/8 drop" + tag +
            "add rule inet ovl_gwbridge localnet iifname \"cni_gwbridge\" ip saddr 127.0.0.0/8 drop" + tag);
  // icc=false, dual stack: the routed container-to-container drops name each address in its family, after
  // the accepts.
  a = sample();
  a.bridge = "br1";
  a.addrs.push_back(*IpNet::parse("fd00:18::2/64"));
  auto text = ruleText(a).value();
  CHECK(count(text, "add rule inet ovl_gwbridge forward ") == 7);
  CHECK(count(text, "forward oifname \"br1\" ct state established,related accept") == 1);
  CHECK(text.find("forward iifname \"br1\" oifname \"br1\" ip6 saddr fd00:18::2 drop") != std::string::npos);
  CHECK(text.find("forward iifname \"br1\" oifname \"br1\" ip6 daddr fd00:18::2 drop") != std::string::npos);
  CHECK(text.find("ct status dnat accept") < text.find("iifname != \"br1\" drop"));
  CHECK(text.find("iifname != \"br1\" drop") < text.find("ip saddr 172.18.0.2 drop"));
  CHECK(text.find("cni_gwbridge") == std::string::npos);
}

TEST_CASE("gwbridge rules: port mappings") {
  auto a = sample();
  a.ports = {PortMapping{8080, 80, Proto::Tcp, std::nullopt},
             PortMapping{5353, 53, Proto::Udp, IpAddr::parse("198.51.100.1")},
             PortMapping{9, 9, Proto::Sctp, IpAddr::parse("2001:db8::1")}};
  auto text = ruleText(a);
  REQUIRE(text);
  CHECK(count(*text, "\n") == 15);  // 4 dnat, masquerade, hairpin, 5 forward, 2 localnet, 2 bridge forward
  CHECK(text->find("add rule inet ovl_gwbridge prerouting meta nfproto ipv4 fib daddr type local tcp dport 8080 dnat "
                   "ip to 172.18.0.2:80 comment \"ovl:net1:ctr1:eth1\"\n") != std::string::npos);
  // 127.0.0.1 too (route_localnet on the bridge).
  CHECK(text->find("add rule inet ovl_gwbridge output meta nfproto ipv4 fib daddr type local "
                   "tcp dport 8080 dnat ip to 172.18.0.2:80") != std::string::npos);
  CHECK(text->find("add rule inet ovl_gwbridge prerouting ip daddr 198.51.100.1 udp dport 5353 dnat ip to "
                   "172.18.0.2:53") != std::string::npos);
  CHECK(text->find("sctp") == std::string::npos);  // an IPv6 host address does not apply to an IPv4 container
  CHECK(text->find("add rule inet ovl_gwbridge postrouting ip saddr { 172.18.0.0/16, 127.0.0.0/8 } ip daddr 172.18.0.2 "
                   "oifname \"cni_gwbridge\" ct status dnat masquerade") != std::string::npos);
}

TEST_CASE("gwbridge rules: IPv6") {
  auto a = sample();
  a.addrs = {*IpNet::parse("fd00:18::2/64")};
  a.ports = {PortMapping{8080, 80, Proto::Tcp, std::nullopt}};
  auto text = ruleText(a);
  REQUIRE(text);
  CHECK(text->find("meta nfproto ipv6 fib daddr type local tcp dport 8080 dnat ip6 to [fd00:18::2]:80") !=
        std::string::npos);
  CHECK(text->find("ip6 daddr != ::1") != std::string::npos);
  CHECK(text->find("ip6 saddr fd00:18::2 oifname != \"cni_gwbridge\" masquerade") != std::string::npos);
  CHECK(text->find("ip6 saddr fd00:18::/64 ip6 daddr fd00:18::2") != std::string::npos);
  CHECK(text->find("localnet") == std::string::npos);  // no route_localnet for an IPv6-only container
}

TEST_CASE("gwbridge rules: nothing unchecked reaches the rule text") {
  auto a = sample();
  a.containerId = "x\" accept; add rule";
  CHECK(!ruleText(a));
  a = sample();
  a.bridge = "br\"0";
  CHECK(!ruleText(a));
  a = sample();
  a.hostVeth = "v;drop";
  CHECK(!ruleText(a));
  a = sample();
  a.addrs.clear();
  CHECK(!ruleText(a));
  a = sample();
  a.ifName = "eth\"1";  // CNI_IFNAME only appears hashed in the tag
  auto text = ruleText(a);
  REQUIRE(text);
  CHECK(text->find("eth\"1") == std::string::npos);
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
  CHECK(t.find("add chain bridge ovl_gwbridge forward { type filter hook forward priority 0;") != std::string::npos);
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
  CHECK(!parseListing(R"({"x":1})"));
}
