#include "table.hpp"

#include <algorithm>

#include "cni/json.hpp"
#include "dns_names.hpp"

namespace ovl::overlay::resolver {
namespace {

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    out.emplace_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) return out;
    start = p + 1;
  }
}

void addUnique(std::vector<IpAddr>& v, const IpAddr& a) {
  if (std::find(v.begin(), v.end(), a) == v.end()) v.push_back(a);
}

}  // namespace

NameTable NameTable::fromListing(std::string_view attachmentsPrefix, const std::vector<kv::KvPair>& pairs) {
  NameTable t;
  for (const auto& p : pairs) {
    if (p.key.compare(0, attachmentsPrefix.size(), attachmentsPrefix) != 0) continue;
    auto parts = split(std::string_view(p.key).substr(attachmentsPrefix.size()), '/');
    if (parts.size() != 4 || std::any_of(parts.begin(), parts.end(), [](auto& x) { return x.empty(); })) continue;
    const std::string& net = parts[0];
    t.attachments_.emplace(net, parts[1], parts[2], parts[3]);
    json::Doc d;
    d.Parse(p.value.data(), p.value.size());
    if (d.HasParseError() || !d.IsObject()) continue;
    std::vector<IpAddr> addrs;
    if (const auto* ips = json::member(d, "ips"); ips && ips->IsArray())
      for (const auto& ip : ips->GetArray()) {
        if (!ip.IsString()) continue;
        if (auto n = IpNet::parse(ip.GetString(), false)) addUnique(addrs, n->addr());
      }
    const auto* names = json::member(d, "names");
    if (!names || !names->IsArray() || addrs.empty()) continue;
    for (const auto& n : names->GetArray()) {
      if (!n.IsString() || !isValidDnsName(n.GetString())) continue;
      std::string name = canonicalName(n.GetString());
      auto& slot = t.byNet_[net][name];
      for (const auto& a : addrs) addUnique(slot, a);
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
    const std::string suffix = "." + canonicalName(net);
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

}  // namespace ovl::overlay::resolver
