// The overlay plugin's pure parts: its configuration (with the node config given) and attachment names.
#include <doctest/doctest.h>

#include "cni/config.hpp"
#include "kv/node_config.hpp"
#include "overlay/attachment_names.hpp"
#include "overlay/config.hpp"

using namespace ovl;
using namespace ovl::overlay;

namespace {

cni::NetConf netconf(const std::string& extra) {
  auto n = cni::parseNetConf(R"({"cniVersion":"1.0.0","name":"over","type":"overlay",)" + extra + "}");
  REQUIRE_MESSAGE(n, (n ? "" : n.error().msg));
  return std::move(*n);
}

kv::NodeConfig node(const std::string& json) {
  auto n = kv::parseNodeConfig(json, "/etc/cni/overlay-node.json");
  REQUIRE_MESSAGE(n, (n ? "" : n.error().msg));
  return *n;
}

const char* kIpam = R"("ipam":{"type":"overlay-ipam","subnet":"10.0.0.0/24"})";

}  // namespace

TEST_CASE("overlay config: the node config fills what the plugin config leaves out") {
  auto c = parseOverlayConf(netconf(kIpam), node(R"({"store":"consul://198.51.100.10:8500","advertise":"eth0",
                                                  "hostName":"h1","port":4790,"stateDir":"/run/x"})"),
                            std::nullopt);
  REQUIRE_MESSAGE(c, (c ? "" : c.error().msg));
  CHECK(c->network == "over");
  CHECK(c->store.kind == kv::StoreSpec::Consul);
  CHECK(c->advertise == "eth0");
  CHECK(c->hostName == "h1");
  CHECK(c->port == 4790);
  CHECK(c->stateDir == "/run/x");
  CHECK(c->ipamType == "overlay-ipam");
  CHECK(c->resolver);
  CHECK_FALSE(c->vni);
  CHECK_FALSE(c->mtu);
  // The plugin's own keys win.
  auto own = parseOverlayConf(netconf(std::string(kIpam) + R"(,"port":4791,"vni":42,"mtu":1400,"resolver":false)"),
                              node(R"({"store":"consul://198.51.100.10:8500","port":4790})"), std::nullopt);
  REQUIRE(own);
  CHECK(own->port == 4791);
  CHECK(own->vni == 42u);
  CHECK(own->mtu == 1400u);
  CHECK_FALSE(own->resolver);
}

TEST_CASE("overlay config: errors name the field") {
  auto store = node(R"({"store":"consul://198.51.100.10:8500"})");
  auto noStore = parseOverlayConf(netconf(kIpam), node("{}"), std::nullopt);
  REQUIRE_FALSE(noStore);
  CHECK(noStore.error().code == Code::InvalidConfig);
  CHECK(noStore.error().msg.find("field 'store' is not set") == 0);
  auto noIpam = parseOverlayConf(netconf(R"("x":1)"), store, std::nullopt);
  REQUIRE_FALSE(noIpam);
  CHECK(noIpam.error().msg.find("field 'ipam.type' is required") == 0);
  for (const char* bad : {R"("vni":0)", R"("vni":16777216)", R"("port":0)", R"("mtu":100)", R"("advertise":"a b")"}) {
    auto r = parseOverlayConf(netconf(std::string(kIpam) + "," + bad), store, std::nullopt);
    CHECK_MESSAGE(!r, bad);
    if (!r) CHECK(r.error().code == Code::InvalidConfig);
  }
}

TEST_CASE("overlay config: the mac capability wins over CNI_ARGS MAC, and a bad one is named") {
  auto store = node(R"({"store":"consul://198.51.100.10:8500"})");
  auto both = parseOverlayConf(netconf(std::string(kIpam) + R"(,"runtimeConfig":{"mac":"02:00:00:00:00:01"})"), store,
                               std::string("02:00:00:00:00:02"));
  REQUIRE(both);
  CHECK(both->mac->str() == "02:00:00:00:00:01");
  auto args = parseOverlayConf(netconf(kIpam), store, std::string("02:00:00:00:00:02"));
  REQUIRE(args);
  CHECK(args->mac->str() == "02:00:00:00:00:02");
  auto multicast = parseOverlayConf(netconf(kIpam), store, std::string("01:00:5e:00:00:01"));
  REQUIRE_FALSE(multicast);
  CHECK(multicast.error().msg == "CNI_ARGS MAC '01:00:5e:00:00:01' is not a unicast MAC address");
  // DEL does not read the runtime's MAC: a bad one must not stop the cleanup.
  auto del = parseOverlayConf(netconf(std::string(kIpam) + R"(,"runtimeConfig":{"mac":"zz"})"), store, std::nullopt,
                              /*readMac=*/false);
  CHECK(del);
}

TEST_CASE("overlay: attachment names from K8S_POD_NAME and the aliases capability") {
  cni::CmdArgs args;
  auto parsed = cni::parseCniArgs("IgnoreUnknown=1;K8S_POD_NAME=Web1");
  REQUIRE(parsed);
  args.args = *parsed;
  auto conf = netconf(std::string(kIpam) + R"(,"runtimeConfig":{"aliases":{"over":["www","WEB1","db.svc"],"other":["x"]}})");
  auto names = attachmentNames(args, conf, "over");
  REQUIRE(names);
  CHECK(*names == std::vector<std::string>{"web1", "www", "db.svc"});  // canonical, no duplicates, in order
  auto bad = netconf(std::string(kIpam) + R"(,"runtimeConfig":{"aliases":{"over":["bad/name"]}})");
  auto r = attachmentNames(args, bad, "over");
  REQUIRE_FALSE(r);
  CHECK(r.error().msg.find("runtimeConfig.aliases.over 'bad/name' is not a valid DNS name") == 0);
}
