#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "overlayctl/default_pool.hpp"

using namespace ovl;
using namespace ovl::ctl;

namespace {

std::vector<IpNet> nets(std::initializer_list<const char*> l) {
  std::vector<IpNet> v;
  for (const char* s : l) v.push_back(*IpNet::parse(s));
  return v;
}

std::string choose(const std::vector<AddressPool>& pools, std::initializer_list<const char*> used) {
  auto s = chooseDefaultSubnet(pools, nets(used));
  return s ? s->str() : "none";
}

Result<std::vector<AddressPool>> pools(const char* text) {
  json::Doc d;
  d.Parse(text);
  return addressPoolsOf(&d, "node config x.json");
}

}  // namespace

TEST_CASE("default pool: Docker's order, skipping what other networks use") {
  const auto docker = dockerDefaultPools();
  CHECK(choose(docker, {}) == "10.0.0.0/24");
  CHECK(choose(docker, {"10.0.0.0/24"}) == "10.0.1.0/24");
  CHECK(choose(docker, {"10.0.0.0/24", "10.0.1.0/24", "10.0.3.0/24"}) == "10.0.2.0/24");
  CHECK(choose(docker, {"10.0.0.128/25"}) == "10.0.1.0/24");  // any overlap counts
  CHECK(choose(docker, {"10.0.0.0/16"}) == "10.1.0.0/24");
  CHECK(choose(docker, {"192.168.0.0/24", "fd00::/64"}) == "10.0.0.0/24");
  CHECK(choose(docker, {"10.0.0.0/8"}) == "none");
}

TEST_CASE("default pool: the node config's pools, in their order") {
  auto p = pools(R"({"defaultAddressPools": [{"base": "172.30.0.0/16", "size": 26}, {"base": "fd00:1::/48", "size": 64}]})");
  REQUIRE(p);
  CHECK(choose(*p, {}) == "172.30.0.0/26");
  CHECK(choose(*p, {"172.30.0.0/26"}) == "172.30.0.64/26");
  CHECK(choose(*p, {"172.30.0.0/17"}) == "172.30.128.0/26");
  CHECK(choose(*p, {"172.30.0.0/16"}) == "fd00:1::/64");
  CHECK(choose(*p, {"172.30.0.0/16", "fd00:1::/64"}) == "fd00:1:0:1::/64");
  auto absent = pools(R"({"store": "consul://h:8500"})");
  REQUIRE(absent);
  CHECK(choose(*absent, {}) == "10.0.0.0/24");
  CHECK(choose(*pools(R"({"defaultAddressPools": [{"base": "10.9.8.7/16", "size": 24}]})"), {}) == "10.9.0.0/24");
}

TEST_CASE("default pool: a malformed node config key names the field") {
  for (const char* bad : {R"({"defaultAddressPools": {}})", R"({"defaultAddressPools": []})",
                          R"({"defaultAddressPools": ["10.0.0.0/8"]})",
                          R"({"defaultAddressPools": [{"base": "10.0.0.0", "size": 24}]})",
                          R"({"defaultAddressPools": [{"base": "10.0.0.0/8"}]})",
                          R"({"defaultAddressPools": [{"base": "10.0.0.0/16", "size": 8}]})",
                          R"({"defaultAddressPools": [{"base": "10.0.0.0/16", "size": 31}]})"}) {
    auto r = pools(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Code::InvalidConfig);
    CHECK(r.error().msg.find("node config x.json: field 'defaultAddressPools") != std::string::npos);
  }
}
