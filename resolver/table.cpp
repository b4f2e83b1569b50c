#include "resolver/table.hpp"

#include <algorithm>
#include <tuple>
#include <utility>

#include "model/dns_names.hpp"
#include "model/records.hpp"

namespace ovl::resolver {
namespace {

void addUnique(std::vector<IpAddr>& v, const IpAddr& a) {
  if (std::find(v.begin(), v.end(), a) == v.end()) v.push_back(a);
}

size_t hashOf(std::string_view s) { return std::hash<std::string_view>{}(s); }

size_t hashOfAttachment(std::string_view net, std::string_view host, std::string_view cid, std::string_view ifName) {
  size_t h = 0;
  for (auto s : {net, host, cid, ifName}) h = h * 1000003 ^ hashOf(s);
  return h;
}

using AttachmentOrder = std::tuple<size_t, std::string_view, std::string_view, std::string_view, std::string_view>;
AttachmentOrder attachmentOrder(const ParsedRecord* r) {
  return {r->attachmentHash, r->net, r->host, r->containerId, r->ifName};
}

std::shared_ptr<const ParsedRecord> parseRecord(const model::Keys& keys, const model::KvView& v) {
  auto r = std::make_shared<ParsedRecord>();
  auto k = keys.classify(v.key);
  if (k.kind != model::Keys::Kind::Attachment) return r;
  r->attachment = true;
  auto a = model::parseAttachment(v.key, k.net, k.host, k.containerId, k.ifName, v.value);
  r->net = std::move(k.net), r->host = std::move(k.host), r->containerId = std::move(k.containerId);
  r->ifName = std::move(k.ifName);
  r->attachmentHash = hashOfAttachment(r->net, r->host, r->containerId, r->ifName);
  if (!a) {  // the attachment counts (its namespace stays served), its names do not
    r->malformed = std::move(a.error().msg);
    return r;
  }
  for (const auto& ip : a->ips)
    if (auto n = IpNet::parse(ip, false)) addUnique(r->addrs, n->addr());
  for (const auto& n : a->names)
    if (model::isValidDnsName(n)) r->names.push_back(model::canonicalName(n));
  for (const auto& n : r->names) r->nameHashes.push_back(hashOf(n));
  return r;
}

}  // namespace

// --- NameTable ------------------------------------------------------------------------------------------

NameTable NameTable::fromListing(const model::Keys& keys, const std::vector<kv::KvPair>& pairs) {
  NetworkNames once;
  return *once.update(keys, model::viewsOf(pairs));
}

NameTable NameTable::fromRecords(std::vector<std::shared_ptr<const ParsedRecord>> records) {
  NameTable t;
  for (const auto& r : records)
    if (!r->malformed.empty()) t.malformed_.push_back(r->malformed);
  t.parts_.push_back(buildPart(std::move(records)));
  return t;
}

// One vector entry per name and per attachment, pointing into the shared records: no string is copied.
std::shared_ptr<const NameTable::Part> NameTable::buildPart(std::vector<std::shared_ptr<const ParsedRecord>> records) {
  auto part = std::make_shared<Part>();
  part->records = std::move(records);
  part->attachments.reserve(part->records.size());
  part->names.reserve(part->records.size());
  for (uint32_t i = 0; i < part->records.size(); ++i) {
    const ParsedRecord& r = *part->records[i];
    part->attachments.push_back(&r);
    if (r.addrs.empty()) continue;  // a name without addresses is nobody's
    for (size_t j = 0; j < r.names.size(); ++j) part->names.push_back({r.nameHashes[j], r.names[j], r.net, i});
  }
  std::sort(part->names.begin(), part->names.end(), [](const Part::Name& a, const Part::Name& b) {
    return std::tie(a.hash, a.name, a.net, a.record) < std::tie(b.hash, b.name, b.net, b.record);
  });
  std::sort(part->attachments.begin(), part->attachments.end(),
            [](const ParsedRecord* a, const ParsedRecord* b) { return attachmentOrder(a) < attachmentOrder(b); });
  return part;
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
  std::vector<std::string_view> all;
  for (const auto& p : parts_)
    for (const auto& n : p->names) all.push_back(n.name);
  std::sort(all.begin(), all.end());
  return size_t(std::unique(all.begin(), all.end()) - all.begin());
}

// Every address of `name` on `net`, record by record in listing order, part by part.
void NameTable::addAddrs(std::string_view net, std::string_view name, Answer& a, bool& found) const {
  const auto key = [](const Part::Name& n) { return std::tuple(n.hash, n.name, n.net); };
  const auto wanted = std::tuple(hashOf(name), name, net);
  for (const auto& p : parts_) {
    for (const auto& n : std::ranges::equal_range(p->names, wanted, {}, key)) {
      found = true;
      for (const auto& ip : p->records[n.record]->addrs) addUnique(a.addrs, ip);
    }
  }
}

bool NameTable::anyNetworkHas(std::string_view name) const {
  const auto key = [](const Part::Name& n) { return std::tuple(n.hash, n.name); };
  const auto wanted = std::tuple(hashOf(name), name);
  return std::any_of(parts_.begin(), parts_.end(),
                     [&](const auto& p) { return std::ranges::binary_search(p->names, wanted, {}, key); });
}

NameTable::Answer NameTable::lookup(const std::set<std::string>& networks, std::string_view qname) const {
  Answer a;
  bool found = false;
  for (const auto& net : networks) {
    addAddrs(net, qname, a, found);
    const std::string suffix = "." + model::canonicalName(net);
    if (qname.size() > suffix.size() && qname.substr(qname.size() - suffix.size()) == suffix)
      addAddrs(net, qname.substr(0, qname.size() - suffix.size()), a, found);
  }
  if (found) a.verdict = Verdict::Found;
  else if (qname.find('.') == std::string_view::npos || anyNetworkHas(qname)) a.verdict = Verdict::NxDomain;
  else a.verdict = Verdict::Forward;
  return a;
}

bool NameTable::hasAttachment(const std::string& host, const AttachKey& k) const {
  const AttachmentOrder key{hashOfAttachment(k.network, host, k.containerId, k.ifName), k.network, host,
                            k.containerId, k.ifName};
  return std::any_of(parts_.begin(), parts_.end(), [&](const auto& p) {
    return std::ranges::binary_search(p->attachments, key, {}, attachmentOrder);
  });
}

// --- NetworkNames ---------------------------------------------------------------------------------------

bool NetworkNames::refreshEntry(const model::Keys& keys, const model::KvView& v, Entry*& out) {
  auto it = byKey_.find(v.key);
  if (it == byKey_.end()) it = byKey_.emplace(std::string(v.key), Entry{}).first;  // the only key copy
  Entry& e = it->second;
  out = &e;
  if (e.seen != generation_) ++seenNow_;
  e.seen = generation_;
  if (e.record && e.modifyIndex == v.modifyIndex) return false;
  e.modifyIndex = v.modifyIndex;
  e.record = parseRecord(keys, v);
  ++parsed_;
  return true;
}

size_t NetworkNames::sweepUnseen() {
  if (seenNow_ == byKey_.size()) return 0;  // every record was in the listing: nothing to walk
  return std::erase_if(byKey_, [&](const auto& kv) { return kv.second.seen != generation_; });
}

std::shared_ptr<const NameTable> NetworkNames::update(const model::Keys& keys, std::span<const model::KvView> listing) {
  ++generation_;
  seenNow_ = 0;
  bool changed = !table_;
  std::vector<const Entry*> entries;  // in listing order; node-based map: they stay put through inserts
  entries.reserve(listing.size());
  for (const auto& v : listing) {
    Entry* e = nullptr;
    if (refreshEntry(keys, v, e)) changed = true;
    entries.push_back(e);
  }
  if (sweepUnseen() > 0) changed = true;
  if (!changed) return table_;  // same keys at the same indexes: the table answers the same
  std::vector<std::shared_ptr<const ParsedRecord>> records;
  records.reserve(entries.size());
  for (const Entry* e : entries)
    if (e->record->attachment) records.push_back(e->record);
  table_ = std::make_shared<const NameTable>(NameTable::fromRecords(std::move(records)));
  return table_;
}

}  // namespace ovl::resolver
