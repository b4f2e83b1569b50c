#include "overlayctl/snapshot.hpp"

#include <algorithm>

#include "model/health.hpp"
#include "model/records.hpp"

namespace ovl::ctl {
namespace {

template <class T>
std::optional<T> valid(Snapshot& s, Result<T> r) {
  if (!r) {
    s.warnings.push_back("ignoring " + r.error().msg);
    return std::nullopt;
  }
  return std::move(*r);
}

void addPair(Snapshot& s, const model::Keys& keys, const kv::KvPair& p) {
  using Kind = model::Keys::Kind;
  auto k = keys.classify(p.key);
  switch (k.kind) {
    case Kind::NetworkConfig:
      if (auto def = valid(s, model::parseDefinition(k.net, p.value))) s.nets[k.net].def = *def;
      break;
    case Kind::Member:
      if (auto m = valid(s, model::parseMember(p.key, k.host, p.value)))
        s.nets[k.net].members.push_back(MemberView{m->host, m->vtep.str(), m->port, p.modifyIndex, m->mtu});
      break;
    case Kind::Attachment:
      if (auto a = valid(s, model::parseAttachment(p.key, k.net, k.host, k.containerId, k.ifName, p.value)))
        s.attachments.push_back(
            AttachView{k.net, k.host, k.containerId, k.ifName, a->mac, a->ips, a->names, a->time, p.modifyIndex});
      break;
    case Kind::Lease:
      if (auto l = valid(s, model::parseLease(p.key, p.value)))
        s.leases.push_back({k.pool, k.ip, l->containerId, l->ifName, l->host, l->network, l->time, p.modifyIndex});
      break;
    case Kind::Host:
      if (auto h = valid(s, model::parseHost(p.key, k.host, p.value)))
        s.hosts.push_back(HostView{h->host, h->vtep.str(), h->machineId, h->time});
      break;
    case Kind::Alive:
      s.alive.insert(k.host);
      break;
    case Kind::HealthReport:
      if (auto r = valid(s, model::parseHealthReport(p.key, k.host, p.value))) s.health[k.host] = *r;
      break;
    default:
      break;
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

std::vector<const LeaseView*> Snapshot::leasesOfNetwork(const std::string& net) const {
  std::vector<const LeaseView*> out;
  for (const auto& l : leases)
    if (l.network == net || (l.network.empty() && l.pool == net)) out.push_back(&l);
  return out;
}

const NetView* Snapshot::net(const std::string& name) const {
  auto it = nets.find(name);
  return it == nets.end() ? nullptr : &it->second;
}

int64_t lastActivity(const Snapshot& s, const std::string& host) {
  int64_t last = 0;
  for (const auto& h : s.hosts)
    if (h.host == host) last = std::max(last, h.time);
  for (const auto& a : s.attachments)
    if (a.host == host) last = std::max(last, a.time);
  return last;
}

Result<Snapshot> readSnapshot(kv::ConsulClient& kv) {
  const model::Keys keys(kv.key(""));
  return snapshotOf(keys, TRY(kv.list(keys.root())));
}

Snapshot snapshotOf(const model::Keys& keys, const std::vector<kv::KvPair>& pairs) {
  Snapshot s;
  for (const auto& p : pairs) addPair(s, keys, p);
  return s;
}

Result<const NetView*> requireNetwork(const Snapshot& s, const std::string& name) {
  const NetView* n = s.net(name);
  if (!n || !n->def) return fail(Code::InvalidConfig, "network '" + name + "' is not defined in the store");
  return n;
}

std::string namesOf(const AttachView& a) {
  std::string out;
  for (const auto& n : a.names) out += (out.empty() ? "" : ",") + n;
  return out;
}

std::string describeContainer(const AttachView& a) {
  return a.names.empty() ? a.containerId : a.containerId + " (" + namesOf(a) + ")";
}

}  // namespace ovl::ctl
