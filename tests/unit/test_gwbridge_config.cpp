#include <doctest/doctest.h>

#include "cni/config.hpp"
#include "gwbridge/config.hpp"

using namespace ovl;
using namespace ovl::gwbridge;

namespace {

Result<GwConf> parse(const std::string& text) {
  auto conf = cni::parseNetConf(text);
  REQUIRE(conf);
  return parseGwConf(*conf, text);
}

}  // namespace

TEST_CASE("gwbridge config: defaults") {
  auto c = parse(R"({"cniVersion":"1.0.0","name":"n1","type":"gwbridge"})");
  REQUIRE(c);
  CHECK(c->bridge == "cni_gwbridge");
  CHECK(c->ifName.empty());  // chained: defaultChainedIfName(CNI_IFNAME)
  CHECK(c->mtu == 0);
  CHECK(c->defaultRoute);
  CHECK(c->ipMasq);
  CHECK(!c->icc);
  CHECK(c->hairpin);
  CHECK(c->portMappings.empty());
  CHECK(c->defaultIpam);
  CHECK(c->sharedPool);
  CHECK(c->ipamType == "overlay-ipam");
  // The IPAM plugin gets our whole configuration with the default section.
  auto ipam = cni::parseNetConf(c->ipamStdin);
  REQUIRE(ipam);
  CHECK(ipam->name == "n1");
  CHECK(ipam->ipamType == "overlay-ipam");
  CHECK(json::toString(*ipam->ipam) ==
        R"({"type":"overlay-ipam","subnet":"172.18.0.0/16","pool":"cni_gwbridge","store":"local"})");
}

TEST_CASE("gwbridge config: the chained default name is gw- and CNI_IFNAME, cut to 15 characters") {
  CHECK(defaultChainedIfName("eth0") == "gw-eth0");
  CHECK(defaultChainedIfName("net1") == "gw-net1");
  CHECK(defaultChainedIfName("averyverylongif") == "gw-averyverylon");
  CHECK(isSafeIfName(defaultChainedIfName("averyverylongif")));
}

TEST_CASE("gwbridge config: every key") {
  auto c = parse(R"({"cniVersion":"1.0.0","name":"n1","type":"gwbridge","bridge":"docker_gwbridge","ifName":"gw0",
    "mtu":1400,"defaultRoute":false,"ipMasq":false,"icc":true,"hairpin":false,
    "ipam":{"type":"host-local","subnet":"172.20.0.0/16"},
    "runtimeConfig":{"portMappings":[{"hostPort":80,"containerPort":8080}]}})");
  REQUIRE(c);
  CHECK(c->bridge == "docker_gwbridge");
  CHECK(c->ifName == "gw0");
  CHECK(c->mtu == 1400);
  CHECK(!c->defaultRoute);
  CHECK(!c->ipMasq);
  CHECK(c->icc);
  CHECK(!c->hairpin);
  CHECK(!c->defaultIpam);
  CHECK(!c->sharedPool);
  CHECK(c->ipamType == "host-local");
  CHECK(c->portMappings.size() == 1);
}

TEST_CASE("gwbridge config: the default pool follows the bridge") {
  auto c = parse(R"({"cniVersion":"1.0.0","name":"n1","type":"gwbridge","bridge":"gwb1"})");
  REQUIRE(c);
  CHECK(c->ipamStdin.find(R"("pool":"gwb1")") != std::string::npos);
}

TEST_CASE("gwbridge config: an explicit pool other than the network's is shared") {
  auto shared = parse(R"({"cniVersion":"1.0.0","name":"n1","ipam":{"type":"overlay-ipam","pool":"cni_gwbridge"}})");
  REQUIRE(shared);
  CHECK(shared->sharedPool);
  CHECK(shared->ipamStdin.find("\"pool\":\"cni_gwbridge\"") != std::string::npos);
  auto own = parse(R"({"cniVersion":"1.0.0","name":"n1","ipam":{"type":"overlay-ipam","pool":"n1"}})");
  REQUIRE(own);
  CHECK(!own->sharedPool);
}

TEST_CASE("gwbridge config: invalid values name the field") {
  auto bad = [](const char* text, const char* field) {
    auto c = parse(text);
    REQUIRE(!c);
    CHECK(c.error().code == Code::InvalidConfig);
    CHECK(c.error().msg.find(field) != std::string::npos);
  };
  bad(R"({"cniVersion":"1.0.0","name":"n","bridge":"a\"b"})", "bridge");
  bad(R"({"cniVersion":"1.0.0","name":"n","bridge":"averyveryverylongname"})", "bridge");
  bad(R"({"cniVersion":"1.0.0","name":"n","bridge":""})", "bridge");
  bad(R"({"cniVersion":"1.0.0","name":"n","bridge":7})", "bridge");
  bad(R"({"cniVersion":"1.0.0","name":"n","ifName":"eth 1"})", "ifName");
  bad(R"({"cniVersion":"1.0.0","name":"n","mtu":20})", "mtu");
  bad(R"({"cniVersion":"1.0.0","name":"n","icc":"no"})", "icc");
  bad(R"({"cniVersion":"1.0.0","name":"n","ipam":{"subnet":"10.0.0.0/8"}})", "ipam.type");
  bad(R"({"cniVersion":"1.0.0","name":"n","runtimeConfig":{"portMappings":[{"hostPort":1}]}})", "containerPort");
}

TEST_CASE("gwbridge config: DEL ignores port mappings it cannot parse") {
  std::string text = R"({"cniVersion":"1.0.0","name":"n","runtimeConfig":{"portMappings":[{"hostPort":"x"}]}})";
  auto conf = cni::parseNetConf(text);
  REQUIRE(conf);
  CHECK(!parseGwConf(*conf, text));
  auto lenient = parseGwConf(*conf, text, true);
  REQUIRE(lenient);
  CHECK(lenient->portMappings.empty());
}

TEST_CASE("gwbridge config: IP= in CNI_ARGS belongs to the plugin gwbridge is chained after") {
  cni::CmdArgs args;
  args.command = "ADD";
  args.argsText = "IgnoreUnknown=1;K8S_POD_NAME=p;IP=10.0.0.50;MAC=02:00:00:00:00:50";
  args.args = cni::parseCniArgs(args.argsText).value();
  std::string standalone = R"({"cniVersion":"1.0.0","name":"n"})";
  std::string chained = R"({"cniVersion":"1.0.0","name":"n","prevResult":{"cniVersion":"1.0.0",
    "interfaces":[{"name":"eth0","sandbox":"/run/netns/x"}],"ips":[{"address":"10.0.0.50/24","interface":0}]}})";
  auto s = cni::parseNetConf(standalone).value();
  auto c = cni::parseNetConf(chained).value();
  CHECK(!isChained(s));
  CHECK(isChained(c));
  CHECK(ipamArgs(args, s).argsText == args.argsText);  // standalone: the address is ours
  auto out = ipamArgs(args, c);
  CHECK(out.argsText == "IgnoreUnknown=1;K8S_POD_NAME=p;MAC=02:00:00:00:00:50");
  CHECK(!out.args.get("IP"));
  CHECK(out.args.get("MAC"));
  args.command = "DEL";
  CHECK(ipamArgs(args, s).argsText == "IgnoreUnknown=1;K8S_POD_NAME=p;MAC=02:00:00:00:00:50");
  args.argsText = "IP=10.0.0.50";
  args.args = cni::parseCniArgs(args.argsText).value();
  CHECK(ipamArgs(args, c).argsText.empty());
}
