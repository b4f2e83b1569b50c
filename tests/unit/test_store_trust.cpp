// Credentials belong to the node: which store a network config may name, and what it gets (issue 16).
#include <doctest/doctest.h>
#include <stdlib.h>

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kv/node_config.hpp"

using namespace ovl;
using namespace ovl::kv;

namespace {

constexpr const char* kConsulVars[] = {"CONSUL_HTTP_ADDR", "CONSUL_HTTP_TOKEN", "CONSUL_HTTP_TOKEN_FILE",
                                       "CONSUL_CACERT", "CONSUL_CLIENT_CERT", "CONSUL_CLIENT_KEY",
                                       "CONSUL_HTTP_SSL", "CONSUL_HTTP_SSL_VERIFY"};

// Runs fn with exactly `vars` of the CONSUL_* environment set, then restores the environment.
void withEnv(std::vector<std::pair<const char*, const char*>> vars, const std::function<void()>& fn) {
  std::vector<std::pair<const char*, std::optional<std::string>>> saved;
  for (const char* n : kConsulVars) {
    const char* v = std::getenv(n);
    saved.emplace_back(n, v ? std::optional<std::string>(v) : std::nullopt);
    ::unsetenv(n);
  }
  for (auto [n, v] : vars) ::setenv(n, v, 1);
  fn();
  for (auto& [n, v] : saved)
    if (v) ::setenv(n, v->c_str(), 1);
    else ::unsetenv(n);
}

NodeConfig node(const char* json) {
  auto n = parseNodeConfig(json, "/etc/cni/test-node.json");
  REQUIRE(n);
  return *n;
}

// resolveStore on a network config (`net`, the plugin's section) with the node config `nodeJson`.
Result<StoreSpec> resolve(const char* nodeJson, const char* net, std::string_view path = "") {
  json::Doc d;
  d.Parse(net);
  REQUIRE_FALSE(d.HasParseError());
  return resolveStore(&d, path, node(nodeJson), true);
}

const char* kNode = R"({"store": "consul://10.0.0.5:8500", "consul": {"token": "node-secret"}})";

}  // namespace

TEST_CASE("a network config using the node's store gets the node's token") {
  withEnv({}, [] {
    for (const char* net : {R"({})", R"({"store": "consul"})", R"({"store": "http://10.0.0.5:8500"})",
                            R"({"store": "10.0.0.5"})", R"({"consul": {"addresses": ["consul://10.0.0.5:8500"]}})"}) {
      CAPTURE(net);
      auto s = resolve(kNode, net);
      REQUIRE(s);
      CHECK(s->kind == StoreSpec::Consul);
      CHECK(s->consul.addresses == std::vector<std::string>{"http://10.0.0.5:8500"});
      CHECK(s->consul.token == "node-secret");
    }
  });
}

TEST_CASE("a network config naming another store is refused with code 7 when the node names a store") {
  withEnv({{"CONSUL_HTTP_TOKEN", "env-secret"}}, [] {
    struct Case {
      const char* net;
      const char* field;
    } cases[] = {
        {R"({"store": "consul://198.51.100.99:8500"})", "'store'"},
        {R"({"store": "consul://10.0.0.5:8500,consul://198.51.100.99:8500"})", "'store'"},
        {R"({"store": "consul+https://10.0.0.5:8500"})", "'store'"},  // another scheme is another store
        {R"({"consul": {"addresses": ["198.51.100.99:8500"]}})", "'consul.addresses'"},
        {R"({"store": "consul", "consul": {"addresses": "198.51.100.99"}})", "'consul.addresses'"},
    };
    for (const auto& c : cases) {
      CAPTURE(c.net);
      auto s = resolve(kNode, c.net);
      REQUIRE_FALSE(s);
      CHECK(s.error().code == Code::InvalidConfig);
      CHECK(s.error().msg.find(c.field) != std::string::npos);
      CHECK(s.error().msg.find("http://10.0.0.5:8500") != std::string::npos);  // what is allowed
      CHECK(s.error().msg.find("secret") == std::string::npos);
    }
    // The IPAM section is named with its path.
    auto s = resolve(kNode, R"({"store": "consul://198.51.100.99:8500"})", "ipam");
    REQUIRE_FALSE(s);
    CHECK(s.error().msg.find("'ipam.store'") != std::string::npos);
  });
}

TEST_CASE("CONSUL_HTTP_ADDR and the node's consul.addresses are stores of the node") {
  withEnv({{"CONSUL_HTTP_ADDR", "198.51.100.7:8500"}, {"CONSUL_HTTP_TOKEN", "env-secret"}}, [] {
    auto s = resolve("{}", R"({"store": "consul://198.51.100.7:8500"})");
    REQUIRE(s);
    CHECK(s->consul.token == "env-secret");
  });
  withEnv({}, [] {
    const char* n = R"({"consul": {"addresses": ["10.0.0.6:8500"], "token": "node-secret"}})";
    auto s = resolve(n, R"({"store": "consul://10.0.0.6:8500"})");
    REQUIRE(s);
    CHECK(s->consul.token == "node-secret");
  });
}

TEST_CASE("when the node names no store, a network config's store gets no node credentials") {
  withEnv({{"CONSUL_HTTP_TOKEN", "env-secret"}, {"CONSUL_CLIENT_CERT", "/etc/c.pem"},
           {"CONSUL_CLIENT_KEY", "/etc/k.pem"}, {"CONSUL_CACERT", "/etc/ca.pem"}},
          [] {
            const char* n = R"({"hostName": "h1", "consul": {"tokenFile": "/etc/node-token"}})";
            auto s = resolve(n, R"({"store": "consul://198.51.100.99:8500"})");
            REQUIRE(s);
            CHECK(s->kind == StoreSpec::Consul);
            CHECK(s->consul.token.empty());
            CHECK(s->consul.tokenFile.empty());
            CHECK(s->consul.certFile.empty());
            CHECK(s->consul.keyFile.empty());
            CHECK(s->consul.caFile == "/etc/ca.pem");  // not a credential
            // Its own inline token is the network's, and goes with it.
            s = resolve(n, R"({"store": "consul://198.51.100.99:8500", "consul": {"token": "net-token"}})");
            REQUIRE(s);
            CHECK(s->consul.token == "net-token");
          });
}

TEST_CASE("a network config names no file: tokenFile, caFile, certFile, keyFile are refused with code 7") {
  withEnv({}, [] {
    for (const char* key : {"tokenFile", "caFile", "certFile", "keyFile"}) {
      CAPTURE(key);
      std::string net = std::string(R"({"store": "consul", "consul": {")") + key + R"(": "/etc/shadow"}})";
      auto s = resolve(kNode, net.c_str(), "ipam");
      REQUIRE_FALSE(s);
      CHECK(s.error().code == Code::InvalidConfig);
      CHECK(s.error().msg.find("'ipam.consul." + std::string(key) + "'") != std::string::npos);
    }
    // The node config may name them.
    auto n = node(R"({"store": "consul://10.0.0.5:8500", "consul": {"tokenFile": "/etc/node-token"}})");
    auto s = resolveStore(nullptr, "", n, true);
    REQUIRE(s);
    CHECK(s->consul.tokenFile == "/etc/node-token");
  });
}

TEST_CASE("the node's servers come out in the order this host tries them: listed, or spread by hostName") {
  withEnv({}, [] {
    const std::vector<std::string> servers{"http://10.0.0.5:8500", "http://10.0.0.6:8500", "http://10.0.0.7:8500"};
    std::set<std::string> firsts;
    for (const char* host : {"h1", "h2", "h3", "h4", "h5", "h6"}) {
      std::string n = std::string(R"({"store": "consul://10.0.0.5:8500,consul://10.0.0.6:8500,consul://10.0.0.7:8500",)") +
                      R"("consul": {"addressOrder": "spread"}, "hostName": ")" + host + R"("})";
      auto s = resolveStore(nullptr, "", node(n.c_str()), true);
      REQUIRE(s);
      ConsulConfig want;
      want.addresses = servers;
      want.addressOrder = ConsulConfig::AddressOrder::Spread;
      spreadAddresses(want, host);
      CHECK(s->consul.addresses == want.addresses);
      firsts.insert(s->consul.addresses[0]);
      // A network config naming the node's store gets the same order (its credentials check sees the set).
      auto net = resolve(n.c_str(), R"({"store": "consul"})");
      REQUIRE(net);
      CHECK(net->consul.addresses == want.addresses);
    }
    CHECK(firsts.size() > 1);
    for (const char* order : {R"(, "consul": {"addressOrder": "listed"})", ""}) {  // listed is the default
      CAPTURE(order);
      std::string n = std::string(R"({"store": "consul://10.0.0.5:8500,consul://10.0.0.6:8500,consul://10.0.0.7:8500",)") +
                      R"("hostName": "h2")" + order + "}";
      auto listed = resolveStore(nullptr, "", node(n.c_str()), true);
      REQUIRE(listed);
      CHECK(listed->consul.addresses == servers);
    }
  });
}
