#include "model/network.hpp"

#include "cni/json.hpp"

namespace ovl::model {

std::pair<IpAddr, IpAddr> rangeBounds(const SubnetDef& s) {
  IpAddr start = s.ipRange->network(), end = s.ipRange->broadcast();
  if (start == s.subnet.network()) start = start.next();
  if (s.subnet.addr().isV4() && end == s.subnet.broadcast()) end = end.prev();
  return {start, end};
}

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

}  // namespace ovl::model
