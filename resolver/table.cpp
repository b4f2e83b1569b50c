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

NameTable NameTable::fromListing(const model::Keys& keys, const std::vector<kv::KvPair>& pairs) {
  NameTable t;
  for (const auto& p : pairs) {
    auto k = keys.classify(p.key);
    if (k.kind != model::Keys::Kind::Attachment) continue;
    t.attachments_.emplace(k.net, k.host, k.containerId, k.ifName);
    auto a = model::parseAttachment(p.key, k.net, k.host, k.containerId, k.ifName, p.value);
    if (!a) {  // the attachment counts (its namespace stays served), its names do not
      t.malformed_.push_back(std::move(a.error().msg));
      continue;
    }
    std::vector<IpAddr> addrs;
    for (const auto& ip : a->ips)
      if (auto n = IpNet::parse(ip, false)) addUnique(addrs, n->addr());
    if (addrs.empty()) continue;
    for (const auto& n : a->names) {
      if (!model::isValidDnsName(n)) continue;
      std::string name = model::canonicalName(n);
      auto& slot = t.byNet_[k.net][name];
      for (const auto& ad : addrs) addUnique(slot, ad);
      t.names_.insert(std::move(name));
    }
  }
  return t;
}

NameTable::Answer NameTable::lookup(const std::set<std::string>& networks, std::string_view qname) const {
  Answer a;
  bool found = false;
  auto take = [&](const std::string& net, std::string_view name) {
    auto n = byNet_.find(net);
    if (n == byNet_.end()) return;
    auto e = n->second.find(name);
    if (e == n->second.end()) return;
    found = true;
    for (const auto& ip : e->second) addUnique(a.addrs, ip);
  };
  for (const auto& net : networks) {
    take(net, qname);
    const std::string suffix = "." + model::canonicalName(net);
    if (qname.size() > suffix.size() && qname.substr(qname.size() - suffix.size()) == suffix)
      take(net, qname.substr(0, qname.size() - suffix.size()));
  }
  if (found) a.verdict = Verdict::Found;
  else if (names_.count(qname) || qname.find('.') == std::string_view::npos) a.verdict = Verdict::NxDomain;
  else a.verdict = Verdict::Forward;
  return a;
}

bool NameTable::hasAttachment(const std::string& host, const AttachKey& k) const {
  return attachments_.count({k.network, host, k.containerId, k.ifName}) > 0;
}

}  // namespace ovl::resolver
