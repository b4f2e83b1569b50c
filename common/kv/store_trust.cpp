#include "kv/store_trust.hpp"

#include <algorithm>

#include "kv/node_config.hpp"
#include "util/log.hpp"

namespace ovl::kv {
namespace {

void addUnique(std::vector<std::string>& out, std::vector<std::string> more) {
  for (auto& a : more)
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(std::move(a));
}

}  // namespace

Result<std::vector<std::string>> trustedAddresses(const NodeConfig& node) {
  std::vector<std::string> out;
  if (node.store) {
    auto parsed = parseStoreUrl(*node.store);
    if (!parsed) return fail(std::move(parsed.error()).context("store in the node config"));
    addUnique(out, std::move(parsed->addresses));
  }
  if (node.consul) {
    ConsulConfig c;
    TRY_VOID(parseConsulObject(*node.consul, c, "consul (node config)"));
    addUnique(out, std::move(c.addresses));
  }
  ConsulConfig env;
  applyEnvDefaults(env);
  for (const auto& a : env.addresses)
    if (auto n = normalizeAddress(a)) addUnique(out, {*n});
  return out;
}

Result<void> refuseNetworkFiles(const json::Value& consulObj, std::string_view path) {
  if (!consulObj.IsObject()) return {};
  for (const char* key : {"tokenFile", "caFile", "certFile", "keyFile"})
    if (consulObj.HasMember(key))
      return fail(Code::InvalidConfig,
                  "field '" + json::join(path, key) +
                      "' is not allowed in a network config: files holding Consul credentials or certificates "
                      "are named only in the node config (" + std::string(kDefaultNodeConfig) +
                      ") or the CONSUL_* environment");
  return {};
}

Result<void> limitCredentials(ConsulConfig& cfg, const std::vector<std::string>& trusted,
                              const std::optional<std::string>& networkToken, std::string_view field) {
  std::string foreign;
  for (const auto& a : cfg.addresses) {
    auto n = normalizeAddress(a);
    if (!n || std::find(trusted.begin(), trusted.end(), *n) == trusted.end()) {
      foreign = n ? *n : a;
      break;
    }
  }
  if (foreign.empty()) return {};
  if (!trusted.empty()) {
    std::string list;
    for (const auto& t : trusted) list += (list.empty() ? "" : ", ") + t;
    return fail(Code::InvalidConfig, "field '" + std::string(field) + "' names consul at " + foreign +
                                         ", which is not a store of this node (" + list +
                                         "): set \"store\": \"consul\" or name one of the node's stores");
  }
  cfg.token = networkToken.value_or("");
  cfg.tokenFile.clear();
  cfg.certFile.clear();
  cfg.keyFile.clear();
  log::debug("consul at " + foreign + " is named by the network config only: no node credentials sent");
  return {};
}

}  // namespace ovl::kv
