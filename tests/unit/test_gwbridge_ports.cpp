#include <doctest/doctest.h>
#include <sys/socket.h>

#include "cni/json.hpp"
#include "gwbridge/ports.hpp"

using namespace ovl;
using namespace ovl::gwbridge;

namespace {

Result<std::vector<PortMapping>> parse(const char* text) {
  json::Doc d;
  d.Parse(text);
  REQUIRE(!d.HasParseError());
  return parsePortMappings(&d, "runtimeConfig.portMappings");
}

}  // namespace

TEST_CASE("gwbridge ports: podman's lowercase keys") {
  auto r = parse(
      R"([{"hostPort":8080,"containerPort":80,"protocol":"tcp"},{"hostPort":53,"containerPort":5353,"protocol":"udp","hostIP":"198.51.100.1"}])");
  REQUIRE(r);
  REQUIRE(r->size() == 2);
  CHECK((*r)[0] == PortMapping{8080, 80, Proto::Tcp, std::nullopt});
  CHECK((*r)[1].proto == Proto::Udp);
  CHECK((*r)[1].hostIp == IpAddr::parse("198.51.100.1"));
}

TEST_CASE("gwbridge ports: CRI's CapitalCase keys, HostIP empty means any, protocol case") {
  auto r = parse(
      R"([{"HostPort":8080,"ContainerPort":80,"Protocol":"TCP","HostIP":""},{"HOSTPORT":9,"containerport":9,"PROTOCOL":"Sctp"}])");
  REQUIRE(r);
  REQUIRE(r->size() == 2);
  CHECK((*r)[0] == PortMapping{8080, 80, Proto::Tcp, std::nullopt});
  CHECK((*r)[1].proto == Proto::Sctp);
}

TEST_CASE("gwbridge ports: defaults, any-address host IPs, float ports") {
  auto r = parse(
      R"([{"hostPort":1,"containerPort":2},{"hostPort":3.0,"containerPort":4,"hostIP":"0.0.0.0"},{"hostPort":5,"containerPort":6,"hostIP":"::"}])");
  REQUIRE(r);
  CHECK((*r)[0].proto == Proto::Tcp);
  CHECK((*r)[1].hostPort == 3);
  CHECK(!(*r)[1].hostIp);
  CHECK(!(*r)[2].hostIp);
}

TEST_CASE("gwbridge ports: errors name the field") {
  auto missing = parse(R"([{"containerPort":80}])");
  REQUIRE(!missing);
  CHECK(missing.error().code == Code::InvalidConfig);
  CHECK(missing.error().msg.find("runtimeConfig.portMappings[0].hostPort") != std::string::npos);

  CHECK(!parse(R"([{"hostPort":0,"containerPort":80}])"));
  CHECK(!parse(R"([{"hostPort":65536,"containerPort":80}])"));
  CHECK(!parse(R"([{"hostPort":1.5,"containerPort":80}])"));
  CHECK(!parse(R"([{"hostPort":1e300,"containerPort":80}])"));
  CHECK(!parse(R"([{"hostPort":-80,"containerPort":80}])"));
  CHECK(!parse(R"([{"hostPort":"80","containerPort":80}])"));
  CHECK(!parse(R"([{"hostPort":80,"containerPort":80,"protocol":"icmp"}])"));
  CHECK(!parse(R"([{"hostPort":80,"containerPort":80,"hostIP":"nope"}])"));
  CHECK(!parse(R"([{"hostPort":80,"containerPort":80,"hostIP":"1.2.3.4\" drop"}])"));
  CHECK(!parse(R"({"hostPort":80})"));
  CHECK(!parse(R"([7])"));
}

TEST_CASE("gwbridge ports: duplicates collapse, conflicts fail") {
  auto dup = parse(R"([{"hostPort":80,"containerPort":80},{"HostPort":80,"ContainerPort":80,"Protocol":"tcp"}])");
  REQUIRE(dup);
  CHECK(dup->size() == 1);
  auto other = parse(R"([{"hostPort":80,"containerPort":80},{"hostPort":80,"containerPort":80,"protocol":"udp"}])");
  REQUIRE(other);
  CHECK(other->size() == 2);
  auto conflict = parse(R"([{"hostPort":80,"containerPort":80},{"hostPort":80,"containerPort":81}])");
  REQUIRE(!conflict);
  CHECK(conflict.error().msg.find("mapped twice") != std::string::npos);
}

TEST_CASE("gwbridge ports: null or absent is none, family filter") {
  auto none = parsePortMappings(nullptr, "runtimeConfig.portMappings");
  REQUIRE(none);
  CHECK(none->empty());
  auto r = parse(
      R"([{"hostPort":1,"containerPort":1},{"hostPort":2,"containerPort":2,"hostIP":"2001:db8::1"},{"hostPort":3,"containerPort":3,"hostIP":"198.51.100.1"}])");
  REQUIRE(r);
  CHECK(mappingsForFamily(*r, AF_INET).size() == 2);
  CHECK(mappingsForFamily(*r, AF_INET6).size() == 2);
}
