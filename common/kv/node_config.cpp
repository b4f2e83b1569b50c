#include "kv/node_config.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <mutex>

#include "kv/store_trust.hpp"
#include "util/file.hpp"

namespace ovl::kv {

Result<NodeConfig> parseNodeConfig(std::string_view text, std::string_view path) {
  NodeConfig n;
  n.path = path;
  n.doc = std::make_shared<json::Doc>();
  std::string what = "node config " + std::string(path);
  TRY_VOID(json::parseInto(*n.doc, text, what));
  const json::Value& root = *n.doc;
  if (!root.IsObject()) return fail(Code::InvalidConfig, what + " must be a JSON object");
  auto ctx = [&](Error e) { return fail(std::move(e).context(what)); };
  auto store = json::optString(root, "store", "");
  if (!store) return ctx(store.error());
  n.store = *store;
  if (const auto* c = json::member(root, "consul")) {
    if (!c->IsObject()) return fail(Code::InvalidConfig, what + ": field 'consul' must be an object");
    n.consul = c;
  }
  auto adv = json::optString(root, "advertise", "");
  if (!adv) return ctx(adv.error());
  n.advertise = *adv;
  auto host = json::optString(root, "hostName", "");
  if (!host) return ctx(host.error());
  n.hostName = *host;
  if (n.hostName && !isValidIdentifier(*n.hostName))
    return fail(Code::InvalidConfig, what + ": field 'hostName' '" + *n.hostName + "' is not a valid name");
  auto port = json::optInt(root, "port", "", 1, 65535);
  if (!port) return ctx(port.error());
  n.port = *port;
  auto sd = json::optString(root, "stateDir", "");
  if (!sd) return ctx(sd.error());
  n.stateDir = *sd;
  if (const auto* m = json::member(root, "metrics")) {
    if (!m->IsObject()) return fail(Code::InvalidConfig, what + ": field 'metrics' must be an object");
    auto listen = json::optString(*m, "listen", "metrics");
    if (!listen) return ctx(listen.error());
    if (*listen) {
      n.metricsListen = metrics::ListenAddr::parse(**listen);
      if (!n.metricsListen)
        return fail(Code::InvalidConfig, what + ": field 'metrics.listen' '" + **listen +
                                             "' is not an address and port, e.g. 127.0.0.1:9474 or [::1]:9474");
    }
  }
  if (const auto* h = json::member(root, "health")) {
    if (!h->IsObject()) return fail(Code::InvalidConfig, what + ": field 'health' must be an object");
    auto vni = json::optInt(*h, "vni", "health", 1, 16777215);
    if (!vni) return ctx(vni.error());
    n.healthVni = *vni;
    auto subnet = json::optNet(*h, "subnet", "health");
    if (!subnet) return ctx(subnet.error());
    if (*subnet && (!(*subnet)->addr().isV4() || (*subnet)->prefix() > 30))
      return fail(Code::InvalidConfig, what + ": field 'health.subnet' must be an IPv4 prefix of /30 or wider");
    if (*subnet) n.healthSubnet = (*subnet)->masked();
    auto enabled = json::optBool(*h, "enabled", "health");
    if (!enabled) return ctx(enabled.error());
    n.healthEnabled = enabled->value_or(true);
  }
  if (const auto* a = json::member(root, "arp")) {
    if (!a->IsObject()) return fail(Code::InvalidConfig, what + ": field 'arp' must be an object");
    auto after = json::optInt(*a, "floodAfterMs", "arp", 0, 10000);
    if (!after) return ctx(after.error());
    n.arpFloodAfterMs = after->value_or(n.arpFloodAfterMs);
  }
  return n;
}

namespace {

Result<NodeConfig> readNodeConfig(const std::string& path, bool named) {
  auto text = readSmallFile(path);
  if (!text) return fail(sysError(text.error().sysErrno, "reading node config " + path));
  if (!*text && !named) return NodeConfig{};
  if (!*text) return fail(Code::InvalidConfig, "node config " + path + " (OVL_NODE_CONFIG) does not exist");
  return parseNodeConfig(**text, path);
}

}  // namespace

Result<NodeConfig> loadNodeConfig() {
  const char* env = std::getenv("OVL_NODE_CONFIG");
  std::string path = env && *env ? env : kDefaultNodeConfig;
  // Read once per process: a plugin, the IPAM it runs in-process and the metrics recorder see one config.
  static std::mutex mu;
  static std::optional<std::pair<std::string, NodeConfig>> loaded;
  std::lock_guard lock(mu);
  if (loaded && loaded->first == path) return loaded->second;
  auto n = readNodeConfig(path, env && *env);
  if (n) loaded.emplace(path, *n);
  return n;
}

Result<StoreSpec> resolveStore(const json::Value* obj, std::string_view path, const NodeConfig& node,
                               bool nodeByDefault) {
  std::optional<std::string> url;
  const json::Value* consulObj = nullptr;
  if (obj) {
    url = TRY(json::optString(*obj, "store", path));
    consulObj = json::member(*obj, "consul");
    if (consulObj && !consulObj->IsObject())
      return fail(Code::InvalidConfig, "field '" + json::join(path, "consul") + "' must be an object");
  }
  std::string urlField = json::join(path, "store");
  StoreSpec spec;
  if (url && (*url == "file" || *url == "local")) return spec;
  const bool fromNode = url ? *url == "consul" : nodeByDefault;
  if (!url && !fromNode) return spec;
  if (fromNode) {
    url = node.store;
    urlField = "store in the node config " + (node.path.empty() ? std::string(kDefaultNodeConfig) : node.path);
  }
  spec.kind = StoreSpec::Consul;
  if (url) {
    auto parsed = parseStoreUrl(*url);
    if (!parsed) return fail(std::move(parsed.error()).context("field '" + urlField + "'"));
    spec.consul = *parsed;
  }
  // Node-level consul settings first, then the plugin's own override them.
  const std::string consulField = json::join(path, "consul");
  if (consulObj) TRY_VOID(refuseNetworkFiles(*consulObj, consulField));
  if (node.consul) TRY_VOID(parseConsulObject(*node.consul, spec.consul, "consul (node config)"));
  if (consulObj) TRY_VOID(parseConsulObject(*consulObj, spec.consul, consulField));
  applyEnvDefaults(spec.consul);
  if (obj) {  // a network config: the node's credentials go only to the node's stores
    std::optional<std::string> ownToken;
    if (consulObj && consulObj->HasMember("token")) ownToken = TRY(json::optString(*consulObj, "token", consulField));
    const bool ownAddresses = consulObj && consulObj->HasMember("addresses");
    TRY_VOID(limitCredentials(spec.consul, TRY(trustedAddresses(node)), ownToken,
                              ownAddresses ? json::join(consulField, "addresses") : urlField));
  }
  if (spec.consul.addresses.empty()) {
    if (!nodeByDefault || url) TRY_VOID(validate(spec.consul));
    spec.kind = StoreSpec::File;  // no cluster store anywhere: the caller decides whether that is fatal
    return spec;
  }
  TRY_VOID(validate(spec.consul));
  spreadAddresses(spec.consul, hostIdentity(node));
  return spec;
}

std::string hostIdentity(const NodeConfig& node) {
  if (node.hostName) return *node.hostName;
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "localhost";
  return buf;
}

}  // namespace ovl::kv
