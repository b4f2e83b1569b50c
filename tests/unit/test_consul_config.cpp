// Consul client configuration: store URLs, CONSUL_* environment, the "consul" JSON object.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <rapidjson/document.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include "kv/consul_config.hpp"
#include "util/ip.hpp"
#include "kv/consul_key.hpp"

using namespace ovl;
using namespace ovl::kv;

namespace {

// Sets (or unsets, with nullptr) CONSUL_* variables for one test and restores them afterwards.
class ScopedEnv {
 public:
  ScopedEnv(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (const char* n : kNames) {
      const char* old = std::getenv(n);
      saved_[n] = old ? std::optional<std::string>(old) : std::nullopt;
      ::unsetenv(n);
    }
    for (auto [n, v] : vars)
      if (v) ::setenv(n, v, 1);
  }
  ~ScopedEnv() {
    for (auto& [n, v] : saved_) {
      if (v)
        ::setenv(n.c_str(), v->c_str(), 1);
      else
        ::unsetenv(n.c_str());
    }
  }

 private:
  static constexpr const char* kNames[] = {"CONSUL_HTTP_ADDR", "CONSUL_HTTP_TOKEN",     "CONSUL_HTTP_TOKEN_FILE",
                                           "CONSUL_CACERT",    "CONSUL_CLIENT_CERT",    "CONSUL_CLIENT_KEY",
                                           "CONSUL_HTTP_SSL",  "CONSUL_HTTP_SSL_VERIFY"};
  std::map<std::string, std::optional<std::string>> saved_;
};

Result<ConsulConfig> parseObj(const char* json) {
  rapidjson::Document d;
  d.Parse(json);
  REQUIRE_FALSE(d.HasParseError());
  ConsulConfig cfg;
  TRY_VOID(parseConsulObject(d, cfg, "consul"));
  return cfg;
}

std::string errMsg(const auto& r) {
  REQUIRE_FALSE(r.has_value());
  return r.error().msg;
}

}  // namespace

TEST_CASE("parseStoreUrl accepts consul and http URL forms and lists") {
  auto c = parseStoreUrl("consul://198.51.100.10:8500");
  REQUIRE(c);
  CHECK(c->addresses == std::vector<std::string>{"http://198.51.100.10:8500"});
  CHECK(c->prefix == "overlay-cni");
  CHECK(c->connectTimeoutMs == 1000);

  c = parseStoreUrl("consul+https://consul.example:8501");
  REQUIRE(c);
  CHECK(c->addresses == std::vector<std::string>{"https://consul.example:8501"});

  c = parseStoreUrl("consul://10.0.0.1:8500, consul://10.0.0.2:8500,https://[fd00::1]:8501/");
  REQUIRE(c);
  CHECK(c->addresses ==
        std::vector<std::string>{"http://10.0.0.1:8500", "http://10.0.0.2:8500", "https://[fd00::1]:8501"});

  c = parseStoreUrl("consul://h1");  // default ports
  REQUIRE(c);
  CHECK(c->addresses[0] == "http://h1:8500");
  CHECK(parseStoreUrl("consul+https://h1")->addresses[0] == "https://h1:8501");
  CHECK(parseStoreUrl("10.1.1.1:9000")->addresses[0] == "http://10.1.1.1:9000");
}

TEST_CASE("parseStoreUrl rejects malformed URLs with InvalidConfig") {
  for (const char* bad :
       {"", "consul://", "etcd://h:2379", "consul://h:0", "consul://h:65536", "consul://h:80x",
        "consul://user:pw@h:8500", "consul://h:8500/path", "consul://h:8500?token=x", "consul://fd00::1:8500",
        "consul://[fd00::1", "consul://a:1,,consul://b:2", "consul://h:", "consul://h o:1"}) {
    CAPTURE(bad);
    auto r = parseStoreUrl(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Code::InvalidConfig);
    CHECK(r.error().msg.find("consul address") != std::string::npos);
  }
}

TEST_CASE("applyEnvDefaults fills unset fields from the CONSUL environment") {
  SUBCASE("host:port, token, TLS files") {
    ScopedEnv env{{"CONSUL_HTTP_ADDR", "10.0.0.5:8500"},
                  {"CONSUL_HTTP_TOKEN", "secret-1"},
                  {"CONSUL_CACERT", "/etc/ca.pem"},
                  {"CONSUL_CLIENT_CERT", "/etc/c.pem"},
                  {"CONSUL_CLIENT_KEY", "/etc/k.pem"}};
    ConsulConfig c;
    applyEnvDefaults(c);
    CHECK(c.addresses == std::vector<std::string>{"http://10.0.0.5:8500"});
    CHECK(c.token == "secret-1");
    CHECK(c.caFile == "/etc/ca.pem");
    CHECK(c.certFile == "/etc/c.pem");
    CHECK(c.keyFile == "/etc/k.pem");
    CHECK(validate(c));
  }
  SUBCASE("CONSUL_HTTP_SSL=true makes host:port https") {
    ScopedEnv env{{"CONSUL_HTTP_ADDR", "10.0.0.5:8501"}, {"CONSUL_HTTP_SSL", "true"}};
    ConsulConfig c;
    applyEnvDefaults(c);
    CHECK(c.addresses == std::vector<std::string>{"https://10.0.0.5:8501"});
  }
  SUBCASE("an explicit scheme wins over CONSUL_HTTP_SSL") {
    ScopedEnv env{{"CONSUL_HTTP_ADDR", "http://10.0.0.5:8500"}, {"CONSUL_HTTP_SSL", "true"}};
    ConsulConfig c;
    applyEnvDefaults(c);
    CHECK(c.addresses == std::vector<std::string>{"http://10.0.0.5:8500"});
    ScopedEnv env2{{"CONSUL_HTTP_ADDR", "https://10.0.0.5"}};
    ConsulConfig d;
    applyEnvDefaults(d);
    CHECK(d.addresses == std::vector<std::string>{"https://10.0.0.5:8501"});
  }
  SUBCASE("configured values are kept") {
    ScopedEnv env{{"CONSUL_HTTP_ADDR", "10.0.0.5:8500"},
                  {"CONSUL_HTTP_TOKEN", "from-env"},
                  {"CONSUL_CACERT", "/env/ca.pem"},
                  {"CONSUL_HTTP_SSL_VERIFY", "false"}};
    ConsulConfig c;
    c.addresses = {"http://10.9.9.9:8500"};
    c.tokenFile = "/etc/token";
    c.caFile = "/etc/mine.pem";
    applyEnvDefaults(c);
    CHECK(c.addresses == std::vector<std::string>{"http://10.9.9.9:8500"});
    CHECK(c.token.empty());  // a configured token file beats the environment's token
    CHECK(c.tokenFile == "/etc/token");
    CHECK(c.caFile == "/etc/mine.pem");
    CHECK(c.tlsSkipVerify);
  }
  SUBCASE("token file from the environment, invalid address reported by validate") {
    ScopedEnv env{{"CONSUL_HTTP_ADDR", "unix:///var/run/consul.sock"}, {"CONSUL_HTTP_TOKEN_FILE", "/run/tok"}};
    ConsulConfig c;
    applyEnvDefaults(c);
    CHECK(c.tokenFile == "/run/tok");
    auto v = validate(c);
    REQUIRE_FALSE(v);
    CHECK(v.error().code == Code::InvalidConfig);
    CHECK(v.error().msg.find("unix:///var/run/consul.sock") != std::string::npos);
  }
  SUBCASE("nothing set: no address, validate says what to set") {
    ScopedEnv env{};
    ConsulConfig c;
    applyEnvDefaults(c);
    CHECK(c.addresses.empty());
    auto v = validate(c);
    REQUIRE_FALSE(v);
    CHECK(v.error().msg.find("CONSUL_HTTP_ADDR") != std::string::npos);
  }
}

TEST_CASE("parseConsulObject reads every key") {
  auto c = parseObj(R"({"addresses":["consul://10.0.0.1:8500","https://10.0.0.2:8501"],"token":"t",
      "tokenFile":"/tf","caFile":"/ca","certFile":"/c","keyFile":"/k","tlsSkipVerify":true,"prefix":"ovl/test",
      "connectTimeoutMs":200,"requestTimeoutMs":3000,"retries":0,"watchReads":"any"})");
  REQUIRE(c);
  CHECK(c->addresses == std::vector<std::string>{"http://10.0.0.1:8500", "https://10.0.0.2:8501"});
  CHECK(c->token == "t");
  CHECK(c->tokenFile == "/tf");
  CHECK(c->caFile == "/ca");
  CHECK(c->certFile == "/c");
  CHECK(c->keyFile == "/k");
  CHECK(c->tlsSkipVerify);
  CHECK(c->prefix == "ovl/test");
  CHECK(c->connectTimeoutMs == 200);
  CHECK(c->requestTimeoutMs == 3000);
  CHECK(c->retries == 0);
  CHECK(c->watchReads == ConsulConfig::WatchReads::AnyServer);
  auto leader = parseObj(R"({"watchReads":"leader"})");
  REQUIRE(leader);
  CHECK(leader->watchReads == ConsulConfig::WatchReads::Leader);

  auto s = parseObj(R"({"addresses":"consul://a:1,consul+https://b:2"})");
  REQUIRE(s);
  CHECK(s->addresses == std::vector<std::string>{"http://a:1", "https://b:2"});
  CHECK(s->watchReads == ConsulConfig::WatchReads::Auto);
  CHECK(s->addressOrder == ConsulConfig::AddressOrder::Listed);
  auto spread = parseObj(R"({"addressOrder":"spread"})");
  REQUIRE(spread);
  CHECK(spread->addressOrder == ConsulConfig::AddressOrder::Spread);
}

TEST_CASE("spreadAddresses: each host starts at the server its name picks, the others follow for failover") {
  const std::vector<std::string> servers{"http://s1:8500", "http://s2:8500", "http://s3:8500"};
  std::set<std::string> firsts;
  for (int i = 1; i <= 30; ++i) {
    ConsulConfig c;
    c.addresses = servers;
    c.addressOrder = ConsulConfig::AddressOrder::Spread;
    const std::string host = "h" + std::to_string(i);
    spreadAddresses(c, host);
    CAPTURE(host);
    // A rotation of the list: every server still there, in the list's cyclic order.
    REQUIRE(c.addresses.size() == 3);
    auto at = std::find(servers.begin(), servers.end(), c.addresses[0]);
    REQUIRE(at != servers.end());
    const size_t k = size_t(at - servers.begin());
    for (size_t j = 0; j < 3; ++j) CHECK(c.addresses[j] == servers[(k + j) % 3]);
    CHECK(k == fnv1a(host) % 3);  // the same host, the same start, in every process
    firsts.insert(c.addresses[0]);
  }
  CHECK(firsts.size() == 3);  // 30 hosts do not all ask one server
  ConsulConfig listed;
  listed.addresses = servers;
  listed.addressOrder = ConsulConfig::AddressOrder::Listed;
  for (const char* host : {"h1", "h2", "h3", "h4"}) {
    spreadAddresses(listed, host);
    CHECK(listed.addresses == servers);
  }
  ConsulConfig one;
  one.addresses = {"http://agent:8500"};
  one.addressOrder = ConsulConfig::AddressOrder::Spread;
  spreadAddresses(one, "h2");
  CHECK(one.addresses == std::vector<std::string>{"http://agent:8500"});
}

TEST_CASE("putLeaderFirst: the server with the leader's host goes first, the others keep their order") {
  const std::vector<std::string> servers{"http://198.51.100.2:8500", "https://198.51.100.3:8501",
                                         "http://[fd00::4]:8500"};
  auto with = [&](std::string_view leader) {
    ConsulConfig c;
    c.addresses = servers;
    const bool moved = putLeaderFirst(c, leader);
    return std::pair{moved, c.addresses};
  };
  CHECK(with("198.51.100.3:8300") ==
        std::pair{true, std::vector<std::string>{servers[1], servers[0], servers[2]}});
  CHECK(with("[fd00:0::4]:8300") ==  // another spelling of the same address
        std::pair{true, std::vector<std::string>{servers[2], servers[0], servers[1]}});
  CHECK(with("198.51.100.2:8300") == std::pair{true, servers});  // first already
  // Not one of the list's (a host name, another server, no leader, garbage): the list as it is.
  for (const char* leader : {"198.51.100.30:8300", "", "198.51.100:8300", "::", "consul-1:8300", "[fd00::5]:8300"}) {
    CAPTURE(leader);
    CHECK(with(leader) == std::pair{false, servers});
  }
  // Idempotent; a port never decides (the leader's is the RPC port).
  ConsulConfig c;
  c.addresses = servers;
  CHECK(putLeaderFirst(c, "198.51.100.3:1"));
  CHECK(putLeaderFirst(c, "198.51.100.3:8300"));
  CHECK(c.addresses == std::vector<std::string>{servers[1], servers[0], servers[2]});
  // Host names are compared as written: an agent or a server listed by name is never matched to an IP.
  ConsulConfig named;
  named.addresses = {"http://consul-1:8500", "http://consul-2:8500"};
  CHECK_FALSE(putLeaderFirst(named, "198.51.100.2:8300"));
  CHECK(named.addresses == std::vector<std::string>{"http://consul-1:8500", "http://consul-2:8500"});
}

TEST_CASE("parseConsulObject errors name the key") {
  struct Case {
    const char* json;
    const char* msg;
  };
  for (auto [json, msg] : std::initializer_list<Case>{
           {R"({"addresses":5})", "consul.addresses must be an array of strings"},
           {R"({"addresses":[5]})", "consul.addresses must be an array of strings"},
           {R"({"addresses":[]})", "consul.addresses must be a non-empty array of strings"},
           {R"({"addresses":["ftp://x:1"]})", "consul.addresses: invalid consul address"},
           {R"({"token":1})", "consul.token must be a string"},
           {R"({"tokenFile":null})", "consul.tokenFile must be a string"},
           {R"({"caFile":[]})", "consul.caFile must be a string"},
           {R"({"certFile":{}})", "consul.certFile must be a string"},
           {R"({"keyFile":true})", "consul.keyFile must be a string"},
           {R"({"tlsSkipVerify":"yes"})", "consul.tlsSkipVerify must be a boolean"},
           {R"({"watchReads":true})", "consul.watchReads must be a string"},
           {R"({"watchReads":"stale"})", "consul.watchReads is 'stale', not one of auto, leader, any"},
           {R"({"addressOrder":1})", "consul.addressOrder must be a string"},
           {R"({"addressOrder":"random"})", "consul.addressOrder is 'random', not one of spread, listed"},
           {R"({"prefix":7})", "consul.prefix must be a string"},
           {R"({"prefix":"a/"})", "consul.prefix must be a key prefix"},
           {R"({"prefix":"a//b"})", "consul.prefix: invalid consul key"},
           {R"({"connectTimeoutMs":"1000"})", "consul.connectTimeoutMs must be an integer"},
           {R"({"connectTimeoutMs":0})", "consul.connectTimeoutMs must be an integer between 1 and"},
           {R"({"requestTimeoutMs":1.5})", "consul.requestTimeoutMs must be an integer"},
           {R"({"retries":11})", "consul.retries must be an integer between 0 and 10"},
           {R"({"retries":-1})", "consul.retries must be an integer between 0 and 10"},
           {R"({"adresses":["a:1"]})", "consul.adresses is not a known key"},
       }) {
    CAPTURE(json);
    auto r = parseObj(json);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Code::InvalidConfig);
    CHECK(r.error().msg.find(msg) == 0);
  }
  rapidjson::Document d;
  d.Parse("[1]");
  ConsulConfig c;
  auto r = parseConsulObject(d, c, "store.consul");
  REQUIRE_FALSE(r);
  CHECK(r.error().msg == "store.consul must be an object");
}

TEST_CASE("resolveToken reads the token file lazily and names a missing file") {
  ConsulConfig c;
  c.token = "inline";
  CHECK(*resolveToken(c) == "inline");
  c.tokenFile = "/nonexistent/ovl-token";
  auto r = resolveToken(c);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Code::InvalidConfig);
  CHECK(r.error().msg.find("/nonexistent/ovl-token") != std::string::npos);
  CHECK(r.error().msg.find("inline") == std::string::npos);

  char path[] = "/tmp/ovl-token-XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  std::ofstream(path) << "  file-token \n";
  c.tokenFile = path;
  CHECK(*resolveToken(c) == "file-token");
  std::ofstream(path) << "bad token\n";
  auto bad = resolveToken(c);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().msg.find("bad") == std::string::npos);  // never echo the token
  ::unlink(path);

  ConsulConfig h;
  h.token = "a\r\nX-Injected: 1";
  CHECK_FALSE(resolveToken(h));
}

TEST_CASE("keys are validated and escaped per path segment") {
  CHECK(validateKey("overlay-cni/ipam/10.0.0.0:24/10.0.0.5", false));
  CHECK(validateKey("overlay-cni/", true));
  CHECK_FALSE(validateKey("overlay-cni/", false));
  CHECK_FALSE(validateKey("", false));
  CHECK_FALSE(validateKey("/abs", false));
  CHECK_FALSE(validateKey("a//b", false));
  CHECK_FALSE(validateKey("a/../b", false));
  CHECK_FALSE(validateKey("a/./b", true));
  CHECK_FALSE(validateKey("a\nb", false));
  CHECK_FALSE(validateKey(std::string(513, 'a'), false));
  CHECK(escapeKeyPath("overlay-cni/ipam/fd00::/64/fd00::5") == "overlay-cni/ipam/fd00%3A%3A/64/fd00%3A%3A5");
  CHECK(escapeKeyPath("a b?c#d%e&f=g+h") == "a%20b%3Fc%23d%25e%26f%3Dg%2Bh");
  CHECK(escapeKeyPath("A-z_0.9~") == "A-z_0.9~");
  CHECK(escapeKeyPath("\xff") == "%FF");
}
