#include "model/health.hpp"

#include <functional>

#include "cni/json.hpp"
#include "model/record_json.hpp"

namespace ovl::model {
namespace {

using recjson::bad;
using recjson::finish;
using recjson::object;
using recjson::optStr;

// A number within [lo, hi]: 0 when absent, anything else makes the record bad (a conversion out of range
// would be undefined).
Result<double> bounded(const json::Value& v, const char* k, double lo, double hi, std::string_view key) {
  const auto* n = json::member(v, k);
  if (!n) return 0.0;
  if (!n->IsNumber() || n->GetDouble() < lo || n->GetDouble() > hi)
    return bad(key, std::string("has an invalid '") + k + "'");
  return n->GetDouble();
}

constexpr double kMaxTime = 1e15;  // seconds since the epoch: far beyond any clock, well inside int64

Result<PairHealth> parsePair(const json::Value& v, std::string_view key) {
  if (!v.IsObject()) return bad(key, "has a pair that is not an object");
  PairHealth p;
  p.peer = optStr(v, "peer");
  if (p.peer.empty()) return bad(key, "has a pair without 'peer'");
  const auto* up = json::member(v, "up");
  p.up = up && up->IsBool() && up->GetBool();
  p.rttMs = TRY(bounded(v, "rttMs", 0, 1e9, key));
  p.largest = unsigned(TRY(bounded(v, "largest", 0, 65535, key)));
  p.mtu = unsigned(TRY(bounded(v, "mtu", 0, 65535, key)));
  p.lost = unsigned(TRY(bounded(v, "lost", 0, 4e9, key)));
  p.since = int64_t(TRY(bounded(v, "since", 0, kMaxTime, key)));
  return p;
}

}  // namespace

uint32_t healthVni(const kv::NodeConfig& node) { return node.healthVni ? uint32_t(*node.healthVni) : kDefaultHealthVni; }

IpNet healthSubnet(const kv::NodeConfig& node) {
  return node.healthSubnet ? *node.healthSubnet : *IpNet::parse(kDefaultHealthSubnet);
}

Result<void> refuseHealthVni(uint32_t vni, const kv::NodeConfig& node, std::string_view what) {
  if (vni != healthVni(node)) return {};
  return fail(Code::InvalidConfig, std::string(what) + ": vni " + std::to_string(vni) +
                                       " is reserved for the health mesh (node config 'health.vni')");
}

std::string toJson(const HealthHost& h) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  json::key(w, "host"); json::str(w, h.host);
  json::key(w, "vtep"); json::str(w, h.vtep.str());
  json::key(w, "addr"); json::str(w, h.addr.str());
  json::key(w, "mac"); json::str(w, h.mac.str());
  w.EndObject();
  return finish(sb);
}

std::string toJson(const HealthReport& r) {
  rapidjson::StringBuffer sb;
  json::Writer w(sb);
  w.StartObject();
  json::key(w, "host"); json::str(w, r.host);
  json::key(w, "time"); w.Int64(r.time);
  json::key(w, "pairs");
  w.StartArray();
  for (const auto& p : r.pairs) {
    w.StartObject();
    json::key(w, "peer"); json::str(w, p.peer);
    json::key(w, "up"); w.Bool(p.up);
    json::key(w, "rttMs"); w.Double(p.rttMs);
    json::key(w, "largest"); w.Uint(p.largest);
    json::key(w, "mtu"); w.Uint(p.mtu);
    json::key(w, "lost"); w.Uint(p.lost);
    json::key(w, "since"); w.Int64(p.since);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return finish(sb);
}

Result<HealthHost> parseHealthHost(std::string_view key, std::string_view host, std::string_view value) {
  json::Doc d;
  TRY_VOID(object(d, key, value));
  HealthHost h;
  h.host = host;
  auto vtep = IpAddr::parse(optStr(d, "vtep"));
  auto addr = IpAddr::parse(optStr(d, "addr"));
  auto mac = MacAddr::parse(optStr(d, "mac"));
  if (!vtep || !addr || !addr->isV4() || !mac) return bad(key, "needs a 'vtep', an IPv4 'addr' and a 'mac'");
  h.vtep = *vtep;
  h.addr = *addr;
  h.mac = *mac;
  return h;
}

Result<HealthReport> parseHealthReport(std::string_view key, std::string_view host, std::string_view value) {
  json::Doc d;
  TRY_VOID(object(d, key, value));
  HealthReport r;
  r.host = host;
  r.time = int64_t(TRY(bounded(d, "time", 0, kMaxTime, key)));
  const auto* pairs = json::member(d, "pairs");
  if (!pairs) return r;
  if (!pairs->IsArray()) return bad(key, "has a 'pairs' that is not a list");
  for (const auto& v : pairs->GetArray()) r.pairs.push_back(TRY(parsePair(v, key)));
  return r;
}

Result<HealthHost> ensureHealthHost(kv::ConsulClient& kv, const Keys& keys, const std::string& host, const IpAddr& vtep,
                                    const IpNet& subnet) {
  HealthHost self{host, vtep, {}, MacAddr::fromSeed("health/" + host)};
  if (auto got = TRY(kv.get(keys.healthHost(host)))) {
    auto rec = parseHealthHost(got->key, host, got->value);
    auto holder = rec && subnet.contains(rec->addr) ? TRY(kv.get(keys.healthAddr(rec->addr.str()))) : std::nullopt;
    if (holder && holder->value == host) {
      self.addr = rec->addr;
      if (!(rec->vtep == vtep) || !(rec->mac == self.mac)) TRY_VOID(kv.put(keys.healthHost(host), toJson(self)));
      return self;
    }
  }
  const IpNet net = subnet.masked();
  const uint32_t base = [&] {
    uint32_t b = 0;
    for (int i = 0; i < 4; ++i) b = (b << 8) | net.addr().bytes()[i];
    return b;
  }();
  const uint32_t size = net.prefix() >= 31 ? 1 : (uint32_t(1) << (32 - net.prefix())) - 2;  // no network/broadcast
  const uint32_t start = uint32_t(std::hash<std::string>{}(host) % size);
  for (uint32_t i = 0; i < size; ++i) {
    const IpAddr ip = IpAddr::v4(base + 1 + (start + i) % size);
    const std::string key = keys.healthAddr(ip.str());
    bool mine = TRY(kv.cas(key, host, 0, kv::Resend::SelfIdentifying));
    if (!mine) {
      auto holder = TRY(kv.get(key));
      mine = holder && holder->value == host;  // ours from an earlier claim
    }
    if (!mine) continue;
    self.addr = ip;
    TRY_VOID(kv.put(keys.healthHost(host), toJson(self)));
    return self;
  }
  return fail(Code::TryAgainLater, "no free address in the health subnet " + net.str());
}

}  // namespace ovl::model
