#include "snapshot.hpp"

#include "cni/json.hpp"

namespace ovl::ctl {
namespace {

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    auto slash = s.find('/', start);
    out.emplace_back(s.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

std::string strField(const json::Value& d, const char* k) {
  const auto* v = json::member(d, k);
  return v && v->IsString() ? v->GetString() : "";
}

bool parseObject(json::Doc& d, const kv::KvPair& p, Snapshot& s) {
  d.Parse(p.value.data(), p.value.size());
  if (d.HasParseError() || !d.IsObject()) {
    s.warnings.push_back("ignoring malformed record " + p.key);
    return false;
  }
  return true;
}

void addPair(Snapshot& s, const std::vector<std::string>& k, const kv::KvPair& p) {
  json::Doc d;
  if (k.size() == 3 && k[0] == "networks" && k[2] == "config") {
    auto def = overlay::parseDefinition(k[1], p.value);
    if (!def) s.warnings.push_back("ignoring " + p.key + ": " + def.error().msg);
    else s.nets[k[1]].def = *def;
  } else if (k.size() == 4 && k[0] == "networks" && k[2] == "members") {
    if (!parseObject(d, p, s)) return;
    MemberView m{k[3], strField(d, "vtep"), 4789};
    if (const auto* po = json::member(d, "port"); po && po->IsUint() && po->GetUint() <= 65535) m.port = uint16_t(po->GetUint());
    s.nets[k[1]].members.push_back(m);
  } else if (k.size() == 5 && k[0] == "attachments") {
    if (!parseObject(d, p, s)) return;
    AttachView a{k[1], k[2], k[3], k[4], strField(d, "mac"), {}, 0};
    if (const auto* ips = json::member(d, "ips"); ips && ips->IsArray())
      for (const auto& ip : ips->GetArray())
        if (ip.IsString()) a.ips.emplace_back(ip.GetString());
    if (const auto* t = json::member(d, "time"); t && t->IsInt64()) a.time = t->GetInt64();
    s.attachments.push_back(std::move(a));
  } else if (k.size() == 4 && k[0] == "ipam" && k[2] == "leases") {
    if (!parseObject(d, p, s)) return;
    s.leases.push_back({k[1], k[3], strField(d, "containerID"), strField(d, "ifname"), strField(d, "host"),
                        strField(d, "time"), p.modifyIndex});
  } else if (k.size() == 2 && k[0] == "hosts") {
    if (!parseObject(d, p, s)) return;
    HostView h{k[1], strField(d, "vtep"), 0};
    if (const auto* t = json::member(d, "time"); t && t->IsInt64()) h.time = t->GetInt64();
    s.hosts.push_back(std::move(h));
  }
}

}  // namespace

std::vector<const AttachView*> Snapshot::attachmentsOf(const std::string& net) const {
  std::vector<const AttachView*> out;
  for (const auto& a : attachments)
    if (a.net == net) out.push_back(&a);
  return out;
}

std::vector<const LeaseView*> Snapshot::leasesOf(const std::string& pool) const {
  std::vector<const LeaseView*> out;
  for (const auto& l : leases)
    if (l.pool == pool) out.push_back(&l);
  return out;
}

const NetView* Snapshot::net(const std::string& name) const {
  auto it = nets.find(name);
  return it == nets.end() ? nullptr : &it->second;
}

Result<Snapshot> readSnapshot(kv::ConsulClient& kv) {
  const std::string prefix = kv.key("");
  Snapshot s;
  for (const auto& p : TRY(kv.list(prefix))) addPair(s, split(std::string_view(p.key).substr(prefix.size())), p);
  return s;
}

Result<const NetView*> requireNetwork(const Snapshot& s, const std::string& name) {
  const NetView* n = s.net(name);
  if (!n || !n->def) return fail(Code::InvalidConfig, "network '" + name + "' is not defined in the store");
  return n;
}

}  // namespace ovl::ctl
