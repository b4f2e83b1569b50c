#include "ipam/read_ahead.hpp"

#include "ipam/config.hpp"
#include "ipam/consul_store.hpp"
#include "kv/consul_config.hpp"
#include "kv/node_config.hpp"

namespace ovl::ipam {

model::ReadAhead readAheadFor(const cni::NetConf& net) {
  model::ReadAhead r;
  auto node = kv::loadNodeConfig();
  if (!node) return r;
  auto conf = parseIpamConf(net, *node, Need::Ranges);
  if (!conf || conf->store.kind != kv::StoreSpec::Consul) return r;
  for (const auto& a : conf->store.consul.addresses) {
    auto n = kv::normalizeAddress(a);
    if (!n) return r;
    r.store.addresses.push_back(*n);
  }
  r.store.token = conf->store.consul.token;
  r.store.tokenFile = conf->store.consul.tokenFile;
  r.keys = cursorReadKeys(model::Keys(kv::prefixedKey(conf->store.consul, "")), conf->pool, conf->rangeSets.size());
  return r;
}

}  // namespace ovl::ipam
