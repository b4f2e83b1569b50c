#include "resolver/table.hpp"

#include <algorithm>

#include "model/dns_names.hpp"
#include "model/records.hpp"

namespace ovl::resolver {
namespace {

void addUnique(std::vector<IpAddr>& v, const IpAddr& a) {
  if (std::find(v.begin(), v.end(), a) == v.end()) v.push_back(a);
}

}  // namespace

namespace {

ParsedRecord parseRecord(const model::Keys& keys, const kv::KvPair& p) {
  ParsedRecord r;
  auto k = keys.classify(p.key);
  if (k.kind != model::Keys::Kind::Attachment) return r;
  r.attachment = true;
  r.net = k.net, r.host = k.host, r.containerId = k.containerId, r.ifName = k.ifName;
  auto a = model::parseAttachment(p.key, k.net, k.host, k.containerId, k.ifName, p.value);
  if (!a) {  // the attachment counts (its namespace stays served), its names do not
    r.malformed = std::move(a.error().msg);
    return r;
  }
  for (const auto& ip : a->ips)
    if (auto n = IpNet::parse(ip, false)) addUnique(r.addrs, n->addr());
  for (const auto& n : a->names)
    if (model::isValidDnsName(n)) r.names.push_back(model::canonicalName(n));
  return r;
}

}  // namespace

NameTable NameTable::fromListing(const model::Keys& keys, const std::vector<kv::KvPair>& pairs, RecordCache* cache) {
  NameTable t;
  auto part = std::make_shared<Part>();
  RecordCache now;
  for (const auto& p : pairs) {
    ParsedRecord fresh;
    const ParsedRecord* r = nullptr;
    if (cache) {
      auto it = cache->find(p.key);
      auto& slot = now[p.key];
      if (it != cache->end() && it->second.first == p.modifyIndex) slot = std::move(it->second);
      else slot = {p.modifyIndex, parseRecord(keys, p)};
      r = &slot.second;
    } else {
      fresh = parseRecord(keys, p);
      r = &fresh;
    }
    if (!r->attachment) continue;
    part->attachments.emplace(r->net, r->host, r->containerId, r->ifName);
    if (!r->malformed.empty()) t.malformed_.push_back(r->malformed);
    if (r->addrs.empty()) continue;
    for (const auto& name : r->names) {
      auto& slot = part->byNet[r->net][name];
      for (const auto& ad : r->addrs) addUnique(slot, ad);
      part->names.insert(name);
    }
  }
  if (cache) *cache = std::move(now);
  t.parts_.push_back(std::move(part));
  return t;
}

NameTable NameTable::combine(const std::vector<std::shared_ptr<const NameTable>>& tables) {
  NameTable t;
  for (const auto& x : tables) {
    t.parts_.insert(t.parts_.end(), x->parts_.begin(), x->parts_.end());
    t.malformed_.insert(t.malformed_.end(), x->malformed_.begin(), x->malformed_.end());
  }
  return t;
}

size_t NameTable::nameCount() const {
  std::set<std::string_view> all;
  for (const auto& p : parts_) all.insert(p->names.begin(), p->names.end());
  return all.size();
}

NameTable::Answer NameTable::lookup(const std::set<std::string>& networks, std::string_view qname) const {
  Answer a;
  bool found = false;
  auto take = [&](const std::string& net, std::string_view name) {
    for (const auto& p : parts_) {
      auto n = p->byNet.find(net);
      if (n == p->byNet.end()) continue;
      auto e = n->second.find(name);
      if (e == n->second.end()) continue;
      found = true;
      for (const auto& ip : e->second) addUnique(a.addrs, ip);
    }
  };
  for (const auto& net : networks) {
    take(net, qname);
    const std::string suffix = "." + model::canonicalName(net);
    if (qname.size() > suffix.size() && qname.substr(qname.size() - suffix.size()) == suffix)
      take(net, qname.substr(0, qname.size() - suffix.size()));
  }
  if (found) a.verdict = Verdict::Found;
  else if (qname.find('.') == std::string_view::npos ||
           std::any_of(parts_.begin(), parts_.end(), [&](const auto& p) { return p->names.count(qname) > 0; }))
    a.verdict = Verdict::NxDomain;
  else a.verdict = Verdict::Forward;
  return a;
}

bool NameTable::hasAttachment(const std::string& host, const AttachKey& k) const {
  const std::tuple<std::string, std::string, std::string, std::string> key{k.network, host, k.containerId, k.ifName};
  return std::any_of(parts_.begin(), parts_.end(), [&](const auto& p) { return p->attachments.count(key) > 0; });
}

}  // namespace ovl::resolver
