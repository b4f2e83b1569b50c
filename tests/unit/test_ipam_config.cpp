// overlay-ipam configuration: host-local's keys and defaults, errors that name the field.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>

#include "cni/config.hpp"
#include "ipam/config.hpp"

using namespace ovl;
using namespace ovl::ipam;

namespace {

cni::NetConf net(const std::string& ipam, const std::string& extra = "") {
  std::string text = R"({"cniVersion":"1.0.0","name":"net1","type":"overlay",)" + extra + R"("ipam":)" + ipam + "}";
  auto c = cni::parseNetConf(text);
  REQUIRE_MESSAGE(c, (c ? "" : c.error().msg));
  return std::move(*c);
}

Result<IpamConf> parse(const std::string& ipam) { return parseIpamConf(net(ipam), kv::NodeConfig{}, Need::Ranges); }

std::string errorOf(const std::string& ipam) {
  auto c = parse(ipam);
  REQUIRE_FALSE(c);
  CHECK(c.error().code == Code::InvalidConfig);
  return c.error().msg;
}

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

}  // namespace

TEST_CASE("ipam config: legacy single range gets host-local's defaults") {
  auto c = parse(R"({"type":"overlay-ipam","subnet":"10.0.0.0/24"})");
  REQUIRE(c);
  REQUIRE(c->rangeSets.size() == 1);
  const Range& r = c->rangeSets[0].ranges[0];
  CHECK(r.subnet.str() == "10.0.0.0/24");
  CHECK(r.gateway == ip("10.0.0.1"));
  CHECK(r.start == ip("10.0.0.1"));  // the iterator skips the gateway: the first lease is .2
  CHECK(r.end == ip("10.0.0.254"));
  CHECK(c->pool == "net1");
  CHECK(c->dataDir == "/var/lib/cni/networks");
  CHECK(c->store.kind == kv::StoreSpec::File);
  CHECK(c->rangeSets[0].capacity() == 253);
}

TEST_CASE("ipam config: IPv6 rangeEnd is the last address, as in host-local") {
  auto c = parse(R"({"ranges":[[{"subnet":"fd00::/120"}]]})");
  REQUIRE(c);
  CHECK(c->rangeSets[0].ranges[0].end == ip("fd00::ff"));
  CHECK(c->rangeSets[0].ranges[0].gateway == ip("fd00::1"));
}

TEST_CASE("ipam config: legacy range comes first, then ranges, routes and pool") {
  auto c = parse(R"({"subnet":"10.1.0.0/24","ranges":[[{"subnet":"10.2.0.0/24","rangeStart":"10.2.0.10",
      "rangeEnd":"10.2.0.20","gateway":"10.2.0.254"},{"subnet":"10.3.0.0/24"}],[{"subnet":"fd00::/64"}]],
      "routes":[{"dst":"0.0.0.0/0"},{"dst":"192.168.0.0/16","gw":"10.1.0.254"}],"pool":"shared-1",
      "dataDir":"/tmp/x"})");
  REQUIRE(c);
  REQUIRE(c->rangeSets.size() == 3);
  CHECK(c->rangeSets[0].ranges[0].subnet.str() == "10.1.0.0/24");
  CHECK(c->rangeSets[1].ranges.size() == 2);
  CHECK(c->rangeSets[1].ranges[0].start == ip("10.2.0.10"));
  CHECK(c->rangeSets[1].ranges[0].gateway == ip("10.2.0.254"));
  CHECK(c->rangeSets[1].capacity() == 11 + 253);
  CHECK(c->routes.size() == 2);
  CHECK(c->routes[1].gw == ip("10.1.0.254"));
  CHECK(c->pool == "shared-1");
  CHECK(c->dataDir == "/tmp/x");
}

TEST_CASE("ipam config: invalid ranges are rejected naming the key") {
  CHECK(errorOf(R"({"ranges":[[{"subnet":"10.0.0.0/24"},{"subnet":"10.0.1.0/24","rangeStart":"10.0.0.5"}]]})") ==
        "field 'ipam.ranges[0][1].rangeStart' 10.0.0.5 is outside subnet 10.0.1.0/24");
  CHECK(errorOf(R"({"subnet":"10.9.0.5/24"})") ==
        "field 'ipam.subnet' 10.9.0.5/24 has host bits set (the network is 10.9.0.0/24)");
  CHECK(errorOf(R"({"ranges":[[{"subnet":"10.0.0.0/31"}]]})").find("ipam.ranges[0][0].subnet") != std::string::npos);
  CHECK(errorOf(R"({"ranges":[[{"subnet":"10.0.0.0/24","gateway":"10.0.1.1"}]]})") ==
        "field 'ipam.ranges[0][0].gateway' 10.0.1.1 is outside subnet 10.0.0.0/24");
  CHECK(errorOf(R"({"ranges":[[{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.9","rangeEnd":"10.0.0.5"}]]})") ==
        "field 'ipam.ranges[0][0].rangeStart' 10.0.0.9 is after rangeEnd 10.0.0.5");
  CHECK(errorOf(R"({"ranges":[[{"subnet":"10.0.0.0/24","rangeEnd":"10.0.0.255"}]]})") ==
        "field 'ipam.ranges[0][0].rangeEnd' 10.0.0.255 is the broadcast address of 10.0.0.0/24");
  CHECK(errorOf(R"({"ranges":[[{"subnet":"10.0.0.0/24","rangeStart":"fd00::1"}]]})").find("is IPv6 but subnet") !=
        std::string::npos);
  CHECK(errorOf(R"({"ranges":[[{"subnet":"10.0.0.0/24"},{"subnet":"fd00::/64"}]]})")
            .starts_with("field 'ipam.ranges[0][1].subnet' fd00::/64 is IPv6 but range set 'ipam.ranges[0]' is IPv4"));
  CHECK(errorOf(R"({"ranges":[]})") == "field 'ipam.ranges' is required (or the legacy 'ipam.subnet')");
  CHECK(errorOf(R"({"ranges":[[]]})") == "field 'ipam.ranges[0]' must not be empty");
  CHECK(errorOf(R"({"rangeStart":"10.0.0.5"})").starts_with("field 'ipam.rangeStart' needs 'ipam.subnet'"));
  CHECK(errorOf(R"({"ranges":[[{"subnet":"10.0.0.0/24"}]],"routes":[{"gw":"10.0.0.1"}]})") ==
        "field 'ipam.routes[0].dst' is required");
  CHECK(errorOf(R"({"subnet":"10.0.0.0/24","pool":"a/b"})").starts_with("field 'ipam.pool' 'a/b' is not a valid"));
}

TEST_CASE("ipam config: overlapping ranges are rejected naming both keys") {
  CHECK(errorOf(R"({"ranges":[[{"subnet":"10.0.0.0/24","rangeEnd":"10.0.0.100"},
                               {"subnet":"10.0.0.0/24","rangeStart":"10.0.0.50"}]]})") ==
        "field 'ipam.ranges[0][1]' (10.0.0.50-10.0.0.254) overlaps 'ipam.ranges[0][0]' (10.0.0.1-10.0.0.100)");
  CHECK(errorOf(R"({"subnet":"10.0.0.0/16","ranges":[[{"subnet":"10.0.5.0/24"}]]})") ==
        "field 'ipam.ranges[0][0]' (10.0.5.1-10.0.5.254) overlaps 'ipam' (10.0.0.1-10.0.255.254)");
  // Disjoint ranges of one subnet are fine.
  CHECK(parse(R"({"ranges":[[{"subnet":"10.0.0.0/24","rangeEnd":"10.0.0.49"},
                             {"subnet":"10.0.0.0/24","rangeStart":"10.0.0.50"}]]})"));
}

TEST_CASE("ipam config: DEL needs only the store keys") {
  auto n = net(R"({"ranges":[[{"subnet":"10.9.0.5/24"}]],"dataDir":"/tmp/d"})");
  CHECK_FALSE(parseIpamConf(n, kv::NodeConfig{}, Need::Ranges));
  auto c = parseIpamConf(n, kv::NodeConfig{}, Need::Store);
  REQUIRE(c);
  CHECK(c->dataDir == "/tmp/d");
}

TEST_CASE("ipam config: consul store from a URL and the consul object") {
  auto c = parse(R"({"subnet":"10.0.0.0/24","store":"consul://127.0.0.1:8500",
                     "consul":{"prefix":"test-x","requestTimeoutMs":2000}})");
  REQUIRE(c);
  CHECK(c->store.kind == kv::StoreSpec::Consul);
  CHECK(c->store.consul.addresses == std::vector<std::string>{"http://127.0.0.1:8500"});
  CHECK(c->store.consul.prefix == "test-x");
  auto bad = parse(R"({"subnet":"10.0.0.0/24","store":"consul://127.0.0.1:99999"})");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().msg.find("ipam.store") != std::string::npos);
}

TEST_CASE("ipam config: static addresses are the union of CNI_ARGS, args.cni.ips and runtimeConfig.ips") {
  auto n = net(R"({"subnet":"10.0.0.0/24"})",
               R"("args":{"cni":{"ips":["10.0.0.7/24","10.0.0.5"]}},"runtimeConfig":{"ips":["fd00::9/64"]},)");
  auto ips = requestedIps(std::string("10.0.0.5, 10.0.0.6/24"), n);
  REQUIRE(ips);
  std::vector<std::string> got;
  for (const auto& a : *ips) got.push_back(a.str());
  CHECK(got == std::vector<std::string>{"10.0.0.5", "10.0.0.6", "10.0.0.7", "fd00::9"});
  auto bad = requestedIps(std::string("10.0.0.x"), n);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().msg == "CNI_ARGS IP '10.0.0.x' is not an IP address");
  auto n2 = net(R"({"subnet":"10.0.0.0/24"})", R"("runtimeConfig":{"ips":[7]},)");
  auto bad2 = requestedIps(std::nullopt, n2);
  REQUIRE_FALSE(bad2);
  CHECK(bad2.error().msg == "field 'runtimeConfig.ips[0]' must be a string");
}

TEST_CASE("ipam config: resolvConf is read like host-local") {
  std::string path = "/tmp/ipamtest-resolv.conf";
  std::ofstream(path) << "# comment\nnameserver 10.0.0.53\nnameserver 10.0.0.54\ndomain example.org\n"
                         "search a.example b.example\noptions ndots:2 timeout:1\nbogus\n";
  auto d = readResolvConf(path);
  REQUIRE(d);
  CHECK(d->nameservers == std::vector<std::string>{"10.0.0.53", "10.0.0.54"});
  CHECK(d->domain == "example.org");
  CHECK(d->search == std::vector<std::string>{"a.example", "b.example"});
  CHECK(d->options == std::vector<std::string>{"ndots:2", "timeout:1"});
  std::remove(path.c_str());
  auto missing = readResolvConf("/nonexistent/resolv.conf");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Code::InvalidConfig);
}
