#include "netdef.hpp"

#include <rapidjson/prettywriter.h>
#include <sys/socket.h>

#include "cni/json.hpp"
#include "kv/node_config.hpp"

namespace ovl::overlay {
namespace {

using Alloc = rapidjson::Document::AllocatorType;

rapidjson::Value strValue(std::string_view s, Alloc& a) {
  return rapidjson::Value(s.data(), rapidjson::SizeType(s.size()), a);
}

// The addresses overlay-ipam may hand out for an ipRange: the range without the subnet's network
// address (and, for IPv4, its broadcast address).
std::pair<IpAddr, IpAddr> rangeBounds(const SubnetDef& s) {
  IpAddr start = s.ipRange->network(), end = s.ipRange->broadcast();
  if (start == s.subnet.network()) start = start.next();
  if (s.subnet.addr().isV4() && end == s.subnet.broadcast()) end = end.prev();
  return {start, end};
}

bool hasRanges(const json::Value& ipam) {
  return json::member(ipam, "ranges") || json::member(ipam, "subnet");
}

// The configuration with the default ipam section and, when `def` is given, its vni and ranges.
std::string merged(const json::Value& root, const NetworkDef* def) {
  json::Doc d;
  d.CopyFrom(root, d.GetAllocator());
  auto& a = d.GetAllocator();
  if (!d.HasMember("ipam")) {
    rapidjson::Value ipam(rapidjson::kObjectType);
    ipam.AddMember("type", "overlay-ipam", a);
    ipam.AddMember("store", "consul", a);
    d.AddMember("ipam", ipam, a);
  }
  if (def) {
    if (!d.HasMember("vni")) d.AddMember("vni", def->vni, a);
    auto& ipam = d["ipam"];
    if (!ipam.HasMember("store")) ipam.AddMember("store", "consul", a);
    writeIpamRanges(ipam, *def, a);
  }
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  d.Accept(w);
  return sb.GetString();
}

using Verb = std::function<Result<void>(const cni::CmdArgs&, const cni::NetConf&)>;

// Runs `fn` on the configuration rewritten as described in the header; `fetch` reads the definition.
template <class Fn>
auto withDefinition(const cni::CmdArgs& args, const cni::NetConf& conf, bool fetch, Fn&& fn)
    -> decltype(fn(args, conf)) {
  const json::Value& root = conf.root();
  const json::Value* ipam = json::member(root, "ipam");
  if (ipam && (!ipam->IsObject() || hasRanges(*ipam))) return fn(args, conf);
  if (ipam && conf.ipamType != "overlay-ipam") return fn(args, conf);
  std::optional<NetworkDef> def;
  if (fetch) {
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

Result<SubnetDef> makeSubnetDef(std::string_view subnet, std::optional<std::string_view> gateway,
                                std::optional<std::string_view> ipRange) {
  SubnetDef s;
  auto net = IpNet::parse(subnet);
  if (!net) return fail(Code::InvalidConfig, "subnet '" + std::string(subnet) + "' is not a CIDR (e.g. 10.0.0.0/24)");
  s.subnet = net->masked();
  const int hostBits = s.subnet.addr().bits() - s.subnet.prefix();
  if (hostBits < 2) return fail(Code::InvalidConfig, "subnet '" + std::string(subnet) + "' is too small");
  if (gateway) {
    auto gw = IpAddr::parse(*gateway);
    if (!gw || !s.subnet.contains(*gw) || *gw == s.subnet.network() ||
        (gw->isV4() && *gw == s.subnet.broadcast()))
      return fail(Code::InvalidConfig, "gateway '" + std::string(*gateway) + "' is not a host address of subnet " +
                                           s.subnet.str());
    s.gateway = *gw;
  }
  if (ipRange) {
    auto r = IpNet::parse(*ipRange);
    if (!r || r->family() != s.subnet.family() || r->prefix() < s.subnet.prefix() ||
        !s.subnet.contains(r->network()))
      return fail(Code::InvalidConfig, "ip-range '" + std::string(*ipRange) + "' is not a CIDR inside subnet " +
                                           s.subnet.str());
    s.ipRange = r->masked();
    auto [start, end] = rangeBounds(s);
    if (end < start) return fail(Code::InvalidConfig, "ip-range '" + std::string(*ipRange) + "' holds no usable address");
  }
  return s;
}

std::string definitionJson(const NetworkDef& d) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  json::key(w, "vni"); w.Uint(d.vni);
  json::key(w, "scope"); json::str(w, d.scope);
  json::key(w, "subnets");
  w.StartArray();
  for (const auto& s : d.subnets) {
    w.StartObject();
    json::key(w, "subnet"); json::str(w, s.subnet.str());
    if (s.gateway) { json::key(w, "gateway"); json::str(w, s.gateway->str()); }
    if (s.ipRange) { json::key(w, "ipRange"); json::str(w, s.ipRange->str()); }
    w.EndObject();
  }
  w.EndArray();
  if (!d.created.empty()) { json::key(w, "created"); json::str(w, d.created); }
  w.EndObject();
  return sb.GetString();
}

Result<NetworkDef> parseDefinition(std::string_view name, std::string_view text) {
  const std::string what = "the definition of network '" + std::string(name) + "'";
  json::Doc d;
  TRY_VOID(json::parseInto(d, text, what));
  if (!d.IsObject()) return fail(Code::Decode, what + " is not a JSON object");
  NetworkDef def;
  def.name = name;
  auto vni = TRY(json::optInt(d, "vni", "", 1, 16777215));
  if (!vni) return fail(Code::Decode, what + " has no vni");
  def.vni = uint32_t(*vni);
  if (auto sc = TRY(json::optString(d, "scope", ""))) def.scope = *sc;
  if (auto cr = TRY(json::optString(d, "created", ""))) def.created = *cr;
  if (const auto* subs = json::member(d, "subnets"); subs && subs->IsArray()) {
    for (const auto& s : subs->GetArray()) {
      if (!s.IsObject()) return fail(Code::Decode, what + " has a malformed subnet");
      auto sn = TRY(json::reqString(s, "subnet", "subnets"));
      auto gw = TRY(json::optString(s, "gateway", "subnets"));
      auto ir = TRY(json::optString(s, "ipRange", "subnets"));
      auto sd = makeSubnetDef(sn, gw ? std::optional<std::string_view>(*gw) : std::nullopt,
                              ir ? std::optional<std::string_view>(*ir) : std::nullopt);
      if (!sd) return fail(Code::Decode, what + ": " + sd.error().msg);
      def.subnets.push_back(*sd);
    }
  }
  return def;
}

Result<std::optional<NetworkDef>> readDefinition(kv::ConsulClient& kv, const std::string& net) {
  auto p = TRY(kv.get(kv.key("networks/" + net + "/config")));
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
        auto [start, end] = rangeBounds(s);
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

std::string nameOnlyConflist(const std::string& net, std::string_view cniVersion) {
  rapidjson::StringBuffer sb;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(sb);
  w.SetIndent(' ', 2);
  w.StartObject();
  w.Key("cniVersion"); w.String(cniVersion.data(), rapidjson::SizeType(cniVersion.size()));
  w.Key("name"); w.String(net.c_str());
  w.Key("plugins");
  w.StartArray();
  w.StartObject();
  w.Key("type"); w.String("overlay");
  w.Key("capabilities");
  w.StartObject();
  w.Key("ips"); w.Bool(true);
  w.Key("mac"); w.Bool(true);
  w.EndObject();
  w.Key("ipam");
  w.StartObject();
  w.Key("type"); w.String("overlay-ipam");
  w.Key("store"); w.String("consul");
  w.EndObject();
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString()) + "\n";
}

cni::Plugin withStoredDefinitions(cni::Plugin inner) {
  cni::Plugin p = inner;
  auto wrap = [](Verb v, bool fetch) -> Verb {
    if (!v) return v;
    return [v, fetch](const cni::CmdArgs& a, const cni::NetConf& c) { return withDefinition(a, c, fetch, v); };
  };
  if (inner.add) {
    auto add = inner.add;
    p.add = [add](const cni::CmdArgs& a, const cni::NetConf& c) { return withDefinition(a, c, true, add); };
  }
  p.check = wrap(inner.check, true);
  p.status = wrap(inner.status, true);
  p.del = wrap(inner.del, false);
  p.gc = wrap(inner.gc, false);
  return p;
}

}  // namespace ovl::overlay
