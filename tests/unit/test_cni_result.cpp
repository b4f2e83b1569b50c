#include <doctest/doctest.h>

#include "cni/result.hpp"
#include "cni/version.hpp"

using namespace ovl;
using namespace ovl::cni;

namespace {
NetResult richResult() {
  NetResult r;
  r.interfaces.push_back({"cni_gwbridge", "02:42:ac:12:00:01", 1400, "", "", ""});
  r.interfaces.push_back({"eth0", "02:00:00:00:00:50", 1350, "/run/netns/c1", "", ""});
  r.interfaces.push_back({"eth1", "02:00:00:00:00:51", 1500, "/run/netns/c1", "", ""});
  r.ips.push_back({*IpNet::parse("10.0.0.2/24"), IpAddr::parse("10.0.0.1"), 1});
  r.ips.push_back({*IpNet::parse("fd00:1::2/64"), IpAddr::parse("fd00:1::1"), 1});
  r.ips.push_back({*IpNet::parse("172.18.0.2/16"), IpAddr::parse("172.18.0.1"), 2});
  Route def{*IpNet::parse("0.0.0.0/0"), IpAddr::parse("172.18.0.1")};
  def.mtu = 1400;
  def.priority = 100;
  def.table = 254;
  def.scope = 0;
  def.advmss = 1360;
  r.routes.push_back(def);
  r.routes.push_back({*IpNet::parse("fd00::/8"), IpAddr::parse("fd00:1::1")});
  r.dns.nameservers = {"10.0.0.1"};
  r.dns.domain = "over";
  r.dns.search = {"over", "svc.local"};
  r.dns.options = {"ndots:2"};
  return r;
}

// What survives a trip through `via`: 1.1.0-only fields vanish below 1.1.0.
NetResult expectedAfter(NetResult r, std::string_view via) {
  if (compareVersions(via, "1.1.0") < 0) {
    for (auto& i : r.interfaces) i.mtu.reset();
    for (auto& rt : r.routes) rt.mtu = rt.advmss = rt.priority = rt.table = rt.scope = std::nullopt;
  }
  return r;
}
}  // namespace

TEST_CASE("results convert between every pair of supported versions") {
  const NetResult base = richResult();
  for (auto from : kSupportedVersions) {
    for (auto to : kSupportedVersions) {
      CAPTURE(from);
      CAPTURE(to);
      auto first = parseResultText(resultToJson(base, from), "r");
      REQUIRE(first);
      auto second = parseResultText(resultToJson(*first, to), "r");
      REQUIRE(second);
      NetResult want = expectedAfter(expectedAfter(base, from), to);
      want.cniVersion = std::string(to);
      CHECK(*second == want);
    }
  }
}

TEST_CASE("pre-1.0 results carry ip version, 1.x do not, 1.1.0 carries mtu") {
  auto old = resultToJson(richResult(), "0.3.1");
  CHECK(old.find("\"version\":\"4\"") != std::string::npos);
  CHECK(old.find("\"version\":\"6\"") != std::string::npos);
  CHECK(old.find("\"mtu\"") == std::string::npos);
  auto v1 = resultToJson(richResult(), "1.0.0");
  CHECK(v1.find("\"version\"") == std::string::npos);
  CHECK(v1.find("\"mtu\"") == std::string::npos);
  auto v11 = resultToJson(richResult(), "1.1.0");
  CHECK(v11.find("\"mtu\":1350") != std::string::npos);
  CHECK(v11.find("\"priority\":100") != std::string::npos);
  CHECK(v11.rfind("{\"cniVersion\":\"1.1.0\"", 0) == 0);
}

TEST_CASE("a lying prevResult is rejected with the field named") {
  auto bad = [](const char* text) {
    auto r = parseResultText(text, "prevResult");
    REQUIRE_FALSE(r);
    return r.error();
  };
  auto e = bad(R"({"interfaces":[{"name":"eth0"}],"ips":[{"address":"10.0.0.2/24","interface":3}]})");
  CHECK(e.msg.find("prevResult.ips[0].interface") != std::string::npos);
  e = bad(R"({"ips":[{"address":"10.0.0.300/24"}]})");
  CHECK(e.msg.find("prevResult.ips[0].address") != std::string::npos);
  CHECK(e.code == Code::InvalidConfig);
  e = bad(R"({"ips":[{"address":"10.0.0.2/24","gateway":"fd00::1"}]})");
  CHECK(e.msg.find("prevResult.ips[0].gateway") != std::string::npos);
  e = bad(R"({"ips":[{"version":"6","address":"10.0.0.2/24"}]})");
  CHECK(e.msg.find("prevResult.ips[0].version") != std::string::npos);
  e = bad(R"({"routes":[{"gw":"10.0.0.1"}]})");
  CHECK(e.msg.find("prevResult.routes[0].dst") != std::string::npos);
  e = bad(R"({"interfaces":{"name":"eth0"}})");
  CHECK(e.msg.find("prevResult.interfaces") != std::string::npos);
  e = bad(R"({"interfaces":[{"mac":"02:00:00:00:00:01"}]})");
  CHECK(e.msg.find("prevResult.interfaces[0].name") != std::string::npos);
  e = bad(R"({"dns":{"nameservers":"10.0.0.1"}})");
  CHECK(e.msg.find("prevResult.dns.nameservers") != std::string::npos);
  e = bad("[1,2]");
  CHECK(e.code == Code::Decode);
  e = bad("{\"ips\":");
  CHECK(e.code == Code::Decode);
}
