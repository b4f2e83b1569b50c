#include "model/records.hpp"

#include "cni/json.hpp"
#include "model/record_json.hpp"

namespace ovl::model {
namespace {

using recjson::bad;
using recjson::finish;
using recjson::object;
using recjson::optStr;

void strings(json::Writer& w, std::string_view k, const std::vector<std::string>& v) {
  json::key(w, k);
  w.StartArray();
  for (const auto& s : v) json::str(w, s);
  w.EndArray();
}

int64_t optTime(const json::Value& d) {
  const auto* v = json::member(d, "time");
  return v && v->IsInt64() ? v->GetInt64() : 0;
}

Result<std::vector<std::string>> stringList(const json::Value& d, const char* k, std::string_view key) {
  std::vector<std::string> out;
  const auto* v = json::member(d, k);
  if (!v) return out;
  if (!v->IsArray()) return bad(key, std::string("has a '") + k + "' that is not a list");
  for (const auto& s : v->GetArray()) {
    if (!s.IsString()) return bad(key, std::string("has a non-string in '") + k + "'");
    out.emplace_back(s.GetString(), s.GetStringLength());
  }
  return out;
}

Result<IpAddr> vtepOf(const json::Value& d, std::string_view key) {
  auto ip = IpAddr::parse(optStr(d, "vtep"));
  if (!ip) return bad(key, "has no valid 'vtep'");
  return *ip;
}

}  // namespace

std::string toJson(const Member& m) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  json::key(w, "host"); json::str(w, m.host);
  json::key(w, "vtep"); json::str(w, m.vtep.str());
  json::key(w, "port"); w.Uint(m.port);
  json::key(w, "vni"); w.Uint(m.vni);
  if (m.mtu) { json::key(w, "mtu"); w.Uint(m.mtu); }
  if (m.underlayMtu) { json::key(w, "underlayMtu"); w.Uint(m.underlayMtu); }
  w.EndObject();
  return finish(sb);
}

std::string toJson(const Host& h) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  json::key(w, "host"); json::str(w, h.host);
  json::key(w, "vtep"); json::str(w, h.vtep.str());
  if (!h.machineId.empty()) { json::key(w, "machineID"); json::str(w, h.machineId); }
  json::key(w, "time"); w.Int64(h.time);
  w.EndObject();
  return finish(sb);
}

std::string toJson(const Attachment& a) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  json::key(w, "containerID"); json::str(w, a.containerId);
  json::key(w, "ifname"); json::str(w, a.ifName);
  json::key(w, "host"); json::str(w, a.host);
  json::key(w, "network"); json::str(w, a.network);
  json::key(w, "mac"); json::str(w, a.mac);
  strings(w, "ips", a.ips);
  if (!a.names.empty()) strings(w, "names", a.names);
  json::key(w, "time"); w.Int64(a.time);
  w.EndObject();
  return finish(sb);
}

std::string toJson(const Lease& l) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  json::key(w, "containerID"); json::str(w, l.containerId);
  json::key(w, "ifname"); json::str(w, l.ifName);
  json::key(w, "host"); json::str(w, l.host);
  if (!l.network.empty()) { json::key(w, "network"); json::str(w, l.network); }
  json::key(w, "time"); json::str(w, l.time);
  w.EndObject();
  return finish(sb);
}

std::string ownerIndexJson(const std::vector<IpAddr>& ips) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartArray();
  for (const auto& ip : ips) json::str(w, ip.str());
  w.EndArray();
  return finish(sb);
}

Result<Member> parseMember(std::string_view key, std::string_view host, std::string_view value) {
  json::Doc d;
  TRY_VOID(object(d, key, value));
  Member m;
  m.host = host;
  m.vtep = TRY(vtepOf(d, key));
  if (const auto* p = json::member(d, "port")) {
    if (!p->IsUint() || p->GetUint() == 0 || p->GetUint() > 65535) return bad(key, "has an invalid 'port'");
    m.port = uint16_t(p->GetUint());
  }
  if (const auto* v = json::member(d, "vni"); v && v->IsUint() && v->GetUint() <= 16777215) m.vni = v->GetUint();
  // MTUs outside what a link can have are not believed (left unrecorded).
  if (const auto* v = json::member(d, "mtu"); v && v->IsUint() && v->GetUint() >= 68 && v->GetUint() <= 65535)
    m.mtu = v->GetUint();
  if (const auto* v = json::member(d, "underlayMtu"); v && v->IsUint() && v->GetUint() >= 68 && v->GetUint() <= 65535)
    m.underlayMtu = v->GetUint();
  return m;
}

Result<Host> parseHost(std::string_view key, std::string_view host, std::string_view value) {
  json::Doc d;
  TRY_VOID(object(d, key, value));
  Host h;
  h.host = host;
  h.vtep = TRY(vtepOf(d, key));
  h.machineId = optStr(d, "machineID");
  h.time = optTime(d);
  return h;
}

Result<Attachment> parseAttachment(std::string_view key, std::string_view net, std::string_view host,
                                   std::string_view cid, std::string_view ifName, std::string_view value) {
  json::Doc d;
  TRY_VOID(object(d, key, value));
  Attachment a;
  a.network = net;
  a.host = host;
  a.containerId = cid;
  a.ifName = ifName;
  a.mac = optStr(d, "mac");
  a.ips = TRY(stringList(d, "ips", key));
  a.names = TRY(stringList(d, "names", key));
  a.time = optTime(d);
  return a;
}

Result<Lease> parseLease(std::string_view key, std::string_view value) {
  json::Doc d;
  TRY_VOID(object(d, key, value));
  Lease l{optStr(d, "containerID"), optStr(d, "ifname"), optStr(d, "host"), optStr(d, "network"), optStr(d, "time")};
  if (l.containerId.empty()) return bad(key, "does not name its container");
  return l;
}

Result<std::vector<IpAddr>> parseOwnerIndex(std::string_view key, std::string_view value) {
  json::Doc d;
  TRY_VOID(json::parseInto(d, value, "record " + std::string(key)));
  if (!d.IsArray()) return bad(key, "is not a list of addresses");
  std::vector<IpAddr> out;
  for (const auto& v : d.GetArray()) {
    auto ip = v.IsString() ? IpAddr::parse(std::string_view(v.GetString(), v.GetStringLength())) : std::nullopt;
    if (!ip) return bad(key, "holds something that is not an address");
    out.push_back(*ip);
  }
  return out;
}

std::string toValue(const VniReservation& v) { return v.network; }

std::string toValue(const Cursor& c) { return c.ip.str(); }

Result<VniReservation> parseVniReservation(std::string_view key, std::string_view value) {
  if (value.size() > 255 || !isValidIdentifier(value)) return bad(key, "does not hold a network name");
  return VniReservation{std::string(value)};
}

Result<Cursor> parseCursor(std::string_view key, std::string_view value) {
  auto ip = value.size() <= 64 ? IpAddr::parse(value) : std::nullopt;
  if (!ip) return bad(key, "does not hold an address");
  return Cursor{*ip};
}

std::string toJson(const StoreMarker& m) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  json::key(w, "id"); json::str(w, m.id);
  json::key(w, "created"); w.Int64(m.created);
  w.EndObject();
  return finish(sb);
}

Result<StoreMarker> parseStoreMarker(std::string_view key, std::string_view value) {
  json::Doc d;
  TRY_VOID(object(d, key, value));
  StoreMarker m{optStr(d, "id"), 0};
  if (const auto* v = json::member(d, "created"); v && v->IsInt64()) m.created = v->GetInt64();
  if (m.id.empty()) return bad(key, "has no 'id'");
  return m;
}

}  // namespace ovl::model
