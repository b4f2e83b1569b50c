#include "cni/result.hpp"

#include "cni/version.hpp"

namespace ovl::cni {
namespace {

constexpr int64_t kI32 = 2147483647;

Result<Interface> parseInterface(const json::Value& v, const std::string& path) {
  if (!v.IsObject()) return fail(Code::Decode, "field '" + path + "' must be an object");
  Interface i;
  i.name = TRY(json::reqString(v, "name", path));
  i.mac = TRY(json::optString(v, "mac", path)).value_or("");
  i.mtu = TRY(json::optInt(v, "mtu", path, 0, kI32));
  i.sandbox = TRY(json::optString(v, "sandbox", path)).value_or("");
  i.socketPath = TRY(json::optString(v, "socketPath", path)).value_or("");
  i.pciID = TRY(json::optString(v, "pciID", path)).value_or("");
  return i;
}

Result<IpConfig> parseIp(const json::Value& v, const std::string& path, size_t nIfaces) {
  if (!v.IsObject()) return fail(Code::Decode, "field '" + path + "' must be an object");
  IpConfig ip;
  auto addr = TRY(json::optNet(v, "address", path));
  if (!addr) return fail(Code::InvalidConfig, "field '" + json::join(path, "address") + "' is required");
  ip.address = *addr;
  ip.gateway = TRY(json::optIp(v, "gateway", path));
  if (ip.gateway && ip.gateway->family() != ip.address.family())
    return fail(Code::InvalidConfig, "field '" + json::join(path, "gateway") + "' " + ip.gateway->str() +
                                         " is not of the same family as " + ip.address.str());
  auto ifx = TRY(json::optInt(v, "interface", path, 0, kI32));
  if (ifx) {
    if (size_t(*ifx) >= nIfaces)
      return fail(Code::InvalidConfig, "field '" + json::join(path, "interface") + "' is " + std::to_string(*ifx) +
                                           " but only " + std::to_string(nIfaces) + " interfaces are listed");
    ip.interface = int(*ifx);
  }
  if (auto ver = TRY(json::optString(v, "version", path))) {
    const char* want = ip.address.addr().isV4() ? "4" : "6";
    if (*ver != want)
      return fail(Code::InvalidConfig, "field '" + json::join(path, "version") + "' is '" + *ver + "' but " +
                                           ip.address.str() + " is IPv" + want);
  }
  return ip;
}

Result<Route> parseRoute(const json::Value& v, const std::string& path) {
  if (!v.IsObject()) return fail(Code::Decode, "field '" + path + "' must be an object");
  Route r;
  auto dst = TRY(json::optNet(v, "dst", path));
  if (!dst) return fail(Code::InvalidConfig, "field '" + json::join(path, "dst") + "' is required");
  r.dst = *dst;
  r.gw = TRY(json::optIp(v, "gw", path));
  if (r.gw && r.gw->family() != r.dst.family())
    return fail(Code::InvalidConfig, "field '" + json::join(path, "gw") + "' " + r.gw->str() +
                                         " is not of the same family as " + r.dst.str());
  r.mtu = TRY(json::optInt(v, "mtu", path, 0, kI32));
  r.advmss = TRY(json::optInt(v, "advmss", path, 0, kI32));
  r.priority = TRY(json::optInt(v, "priority", path, 0, 4294967295LL));
  r.table = TRY(json::optInt(v, "table", path, 0, 4294967295LL));
  r.scope = TRY(json::optInt(v, "scope", path, 0, 255));
  return r;
}

Result<Dns> parseDns(const json::Value& obj, const std::string& path) {
  Dns d;
  const json::Value* v = json::member(obj, "dns");
  if (!v) return d;
  std::string p = json::join(path, "dns");
  if (!v->IsObject()) return fail(Code::InvalidConfig, "field '" + p + "' must be an object");
  d.nameservers = TRY(json::optStringArray(*v, "nameservers", p));
  d.domain = TRY(json::optString(*v, "domain", p)).value_or("");
  d.search = TRY(json::optStringArray(*v, "search", p));
  d.options = TRY(json::optStringArray(*v, "options", p));
  return d;
}

}  // namespace

Result<NetResult> parseResult(const json::Value& v, std::string_view pathView) {
  std::string path(pathView);
  if (!v.IsObject()) return fail(Code::Decode, "field '" + path + "' must be an object");
  NetResult r;
  r.cniVersion = TRY(json::optString(v, "cniVersion", path)).value_or("");
  if (const auto* a = json::member(v, "interfaces")) {
    if (!a->IsArray()) return fail(Code::InvalidConfig, "field '" + json::join(path, "interfaces") + "' must be an array");
    for (size_t i = 0; i < a->Size(); ++i)
      r.interfaces.push_back(TRY(parseInterface((*a)[rapidjson::SizeType(i)], json::index(json::join(path, "interfaces"), i))));
  }
  if (const auto* a = json::member(v, "ips")) {
    if (!a->IsArray()) return fail(Code::InvalidConfig, "field '" + json::join(path, "ips") + "' must be an array");
    for (size_t i = 0; i < a->Size(); ++i)
      r.ips.push_back(TRY(parseIp((*a)[rapidjson::SizeType(i)], json::index(json::join(path, "ips"), i), r.interfaces.size())));
  }
  if (const auto* a = json::member(v, "routes")) {
    if (!a->IsArray()) return fail(Code::InvalidConfig, "field '" + json::join(path, "routes") + "' must be an array");
    for (size_t i = 0; i < a->Size(); ++i)
      r.routes.push_back(TRY(parseRoute((*a)[rapidjson::SizeType(i)], json::index(json::join(path, "routes"), i))));
  }
  r.dns = TRY(parseDns(v, path));
  return r;
}

Result<NetResult> parseResultText(std::string_view text, std::string_view path) {
  json::Doc doc;
  TRY_VOID(json::parseInto(doc, text, path));
  return parseResult(doc, path);
}

void writeResult(json::Writer& w, const NetResult& r, std::string_view version) {
  const bool v11 = compareVersions(version, "1.1.0") >= 0;
  const bool preV1 = compareVersions(version, "1.0.0") < 0;
  w.StartObject();
  json::key(w, "cniVersion");
  json::str(w, version);
  if (!r.interfaces.empty()) {
    json::key(w, "interfaces");
    w.StartArray();
    for (const auto& i : r.interfaces) {
      w.StartObject();
      json::key(w, "name");
      json::str(w, i.name);
      if (!i.mac.empty()) { json::key(w, "mac"); json::str(w, i.mac); }
      if (v11 && i.mtu) { json::key(w, "mtu"); w.Int64(*i.mtu); }
      if (!i.sandbox.empty()) { json::key(w, "sandbox"); json::str(w, i.sandbox); }
      if (v11 && !i.socketPath.empty()) { json::key(w, "socketPath"); json::str(w, i.socketPath); }
      if (v11 && !i.pciID.empty()) { json::key(w, "pciID"); json::str(w, i.pciID); }
      w.EndObject();
    }
    w.EndArray();
  }
  if (!r.ips.empty()) {
    json::key(w, "ips");
    w.StartArray();
    for (const auto& ip : r.ips) {
      w.StartObject();
      if (preV1) { json::key(w, "version"); json::str(w, ip.address.addr().isV4() ? "4" : "6"); }
      json::key(w, "address");
      json::str(w, ip.address.str());
      if (ip.gateway) { json::key(w, "gateway"); json::str(w, ip.gateway->str()); }
      if (ip.interface) { json::key(w, "interface"); w.Int(*ip.interface); }
      w.EndObject();
    }
    w.EndArray();
  }
  if (!r.routes.empty()) {
    json::key(w, "routes");
    w.StartArray();
    for (const auto& rt : r.routes) {
      w.StartObject();
      json::key(w, "dst");
      json::str(w, rt.dst.str());
      if (rt.gw) { json::key(w, "gw"); json::str(w, rt.gw->str()); }
      if (v11) {
        auto opt = [&](const char* k, const std::optional<int64_t>& x) {
          if (x) { json::key(w, k); w.Int64(*x); }
        };
        opt("mtu", rt.mtu);
        opt("advmss", rt.advmss);
        opt("priority", rt.priority);
        opt("table", rt.table);
        opt("scope", rt.scope);
      }
      w.EndObject();
    }
    w.EndArray();
  }
  if (!r.dns.empty()) {
    json::key(w, "dns");
    w.StartObject();
    auto arr = [&](const char* k, const std::vector<std::string>& xs) {
      if (xs.empty()) return;
      json::key(w, k);
      w.StartArray();
      for (const auto& x : xs) json::str(w, x);
      w.EndArray();
    };
    arr("nameservers", r.dns.nameservers);
    if (!r.dns.domain.empty()) { json::key(w, "domain"); json::str(w, r.dns.domain); }
    arr("search", r.dns.search);
    arr("options", r.dns.options);
    w.EndObject();
  }
  w.EndObject();
}

std::string resultToJson(const NetResult& r, std::string_view version) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  writeResult(w, r, version);
  return std::string(sb.GetString(), sb.GetSize());
}

}  // namespace ovl::cni
