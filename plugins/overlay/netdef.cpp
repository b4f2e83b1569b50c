#include "overlay/netdef.hpp"

#include <sys/socket.h>

#include "cni/json.hpp"
#include "kv/node_config.hpp"
#include "model/keys.hpp"

namespace ovl::overlay {
namespace {

using Alloc = rapidjson::Document::AllocatorType;

rapidjson::Value strValue(std::string_view s, Alloc& a) {
  return rapidjson::Value(s.data(), rapidjson::SizeType(s.size()), a);
}

bool hasRanges(const json::Value& ipam) {
  return json::member(ipam, "ranges") || json::member(ipam, "subnet");
}

// overlay-ipam under the overlay hands out addresses on one L2 segment shared by every host: without a
// "store" of its own it uses the overlay's cluster store (the plugin's "store"/"consul", else the node
// config's), never a per-host file store. A file store must be asked for explicitly ("store": "file").
void followClusterStore(json::Doc& d) {
  auto& a = d.GetAllocator();
  auto& ipam = d["ipam"];
  if (ipam.HasMember("store")) ipam.RemoveMember("store");  // null: as if absent
  if (const auto* s = json::member(d, "store")) ipam.AddMember("store", rapidjson::Value(*s, a), a);
  else ipam.AddMember("store", "consul", a);
  if (const auto* c = json::member(d, "consul"); c && !json::member(ipam, "consul"))
    ipam.AddMember("consul", rapidjson::Value(*c, a), a);
}

// The configuration with the default ipam section, the cluster store, and, when `def` is given, the
// network's vni and ranges.
std::string merged(const json::Value& root, const NetworkDef* def) {
  json::Doc d;
  d.CopyFrom(root, d.GetAllocator());
  auto& a = d.GetAllocator();
  if (!d.HasMember("ipam")) {
    rapidjson::Value ipam(rapidjson::kObjectType);
    ipam.AddMember("type", "overlay-ipam", a);
    d.AddMember("ipam", ipam, a);
  }
  if (!json::member(d["ipam"], "store")) followClusterStore(d);
  if (def) {
    if (!d.HasMember("vni")) d.AddMember("vni", def->vni, a);
    writeIpamRanges(d["ipam"], *def, a);
  }
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  d.Accept(w);
  return sb.GetString();
}

using Verb = std::function<Result<void>(const cni::CmdArgs&, const cni::NetConf&)>;

}  // namespace

bool needsDefinition(const cni::NetConf& conf) {
  const json::Value* ipam = json::member(conf.root(), "ipam");
  return !ipam || (ipam->IsObject() && conf.ipamType == "overlay-ipam" && !hasRanges(*ipam));
}

namespace {

// Runs `fn` on the configuration rewritten as described in the header; `fetch` reads the definition.
template <class Fn>
auto withDefinition(const cni::CmdArgs& args, const cni::NetConf& conf, bool fetch, Fn&& fn)
    -> decltype(fn(args, conf)) {
  const json::Value& root = conf.root();
  const json::Value* ipam = json::member(root, "ipam");
  if (ipam && (!ipam->IsObject() || conf.ipamType != "overlay-ipam")) return fn(args, conf);
  const bool needsRanges = needsDefinition(conf);
  if (!needsRanges && json::member(*ipam, "store")) return fn(args, conf);
  std::optional<NetworkDef> def;
  if (fetch && needsRanges) {
    kv::NodeConfig node = TRY(kv::loadNodeConfig());
    kv::StoreSpec store = TRY(kv::resolveStore(&root, "", node, true));
    if (store.kind == kv::StoreSpec::Consul) {
      auto client = TRY(kv::ConsulClient::create(store.consul));
      def = TRY(readDefinition(client, conf.name));
      if (def && def->subnets.empty()) def.reset();
    }
    if (!def && !ipam)
      return fail(Code::InvalidConfig, "field 'ipam' is not set and network '" + conf.name +
                                           "' is not defined in the store (define it with 'overlayctl network create " +
                                           conf.name + "')");
  }
  cni::CmdArgs a2 = args;
  a2.stdinData = merged(root, def ? &*def : nullptr);
  auto conf2 = TRY(cni::parseNetConf(a2.stdinData));
  return fn(a2, conf2);
}

}  // namespace

Result<std::optional<NetworkDef>> readDefinition(kv::ConsulClient& kv, const std::string& net) {
  auto p = TRY(kv.get(model::Keys(kv.key("")).networkConfig(net)));
  if (!p) return std::nullopt;
  return TRY(parseDefinition(net, p->value));
}

void writeIpamRanges(rapidjson::Value& ipam, const NetworkDef& d, Alloc& a) {
  rapidjson::Value sets(rapidjson::kArrayType);
  for (int fam : {AF_INET, AF_INET6}) {
    rapidjson::Value set(rapidjson::kArrayType);
    for (const auto& s : d.subnets) {
      if (s.subnet.family() != fam) continue;
      rapidjson::Value r(rapidjson::kObjectType);
      r.AddMember("subnet", strValue(s.subnet.str(), a), a);
      if (s.gateway) r.AddMember("gateway", strValue(s.gateway->str(), a), a);
      if (s.ipRange) {
        auto [start, end] = model::rangeBounds(s);
        r.AddMember("rangeStart", strValue(start.str(), a), a);
        r.AddMember("rangeEnd", strValue(end.str(), a), a);
      }
      set.PushBack(r, a);
    }
    if (!set.Empty()) sets.PushBack(set, a);
  }
  if (ipam.HasMember("ranges")) ipam.RemoveMember("ranges");
  ipam.AddMember("ranges", sets, a);
}

Result<std::string> ipamStdin(const cni::CmdArgs& args, const cni::NetConf& conf,
                              const std::optional<NetworkDef>& def) {
  if (!needsDefinition(conf)) return args.stdinData;
  if (!def || def->subnets.empty())
    return fail(Code::InvalidConfig, "network '" + conf.name + "' is not defined in the store and field 'ipam' has no "
                                         "address ranges (define it with 'overlayctl network create " + conf.name +
                                         "', or give the ipam section a subnet)");
  return merged(conf.root(), &*def);
}

cni::Plugin withStoredDefinitions(cni::Plugin inner) {
  // ADD and CHECK read the definition with the network's other records, in their one pass over the store
  // (ipamStdin); STATUS reads it here. All get the default ipam section and the cluster store first.
  cni::Plugin p = inner;
  auto wrap = [](auto v, bool fetch) -> decltype(v) {
    if (!v) return v;
    return [v, fetch](const cni::CmdArgs& a, const cni::NetConf& c) { return withDefinition(a, c, fetch, v); };
  };
  p.add = wrap(inner.add, false);
  p.check = wrap(inner.check, false);
  p.status = wrap(inner.status, true);
  p.del = wrap(inner.del, false);
  p.gc = wrap(inner.gc, false);
  return p;
}

}  // namespace ovl::overlay
