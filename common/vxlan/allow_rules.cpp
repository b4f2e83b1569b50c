#include "vxlan/allow_rules.hpp"

#include <sys/socket.h>

#include <optional>

#include "cni/json.hpp"
#include "model/records.hpp"

namespace ovl::vxlan {
namespace {

std::string_view setOf(const IpAddr& vtep) { return vtep.isV6() ? "allow6" : "allow4"; }

std::string tablePath() { return std::string(kAllowFamily) + " " + std::string(kAllowTable); }

std::string_view strOf(const json::Value* v) { return v && v->IsString() ? std::string_view(v->GetString()) : ""; }

// An element as listed: {"concat": ["198.51.100.2", 42]}, or wrapped as {"elem": {"val": {...}}} when the
// element carries a timeout, counter or comment.
std::optional<AllowEntry> readElement(const json::Value& e, int family) {
  const json::Value* v = &e;
  if (const auto* wrapped = json::member(*v, "elem")) v = json::member(*wrapped, "val");
  const auto* concat = v ? json::member(*v, "concat") : nullptr;
  if (!concat || !concat->IsArray() || concat->Size() != 2) return std::nullopt;
  auto ip = IpAddr::parse(strOf(&(*concat)[0]));
  const auto& vni = (*concat)[1];
  if (!ip || ip->family() != family || !vni.IsUint() || vni.GetUint() > model::kMaxVni) return std::nullopt;
  return AllowEntry{*ip, vni.GetUint()};
}

}  // namespace

std::set<IpAddr> AllowListing::vteps(uint32_t vni) const {
  std::set<IpAddr> out;
  for (const auto& e : entries)
    if (e.vni == vni) out.insert(e.vtep);
  return out;
}

AllowPlan planAllow(const AllowListing& have, uint32_t vni, const std::set<IpAddr>& want, bool exact) {
  AllowPlan p;
  const std::set<IpAddr> now = have.vteps(vni);
  for (const auto& ip : want)
    if (!now.count(ip)) p.add.push_back({ip, vni});
  if (exact)
    for (const auto& ip : now)
      if (!want.count(ip)) p.remove.push_back({ip, vni});
  return p;
}

std::string allowTableText() {
  const std::string t = tablePath();
  return "add table " + t + "\n" +                                                 //
         "add set " + t + " allow4 { typeof ip saddr . @th,96,24; }\n" +            //
         "add set " + t + " allow6 { typeof ip6 saddr . @th,96,24; }\n";
}

std::string allowElementsText(std::string_view verb, const std::vector<AllowEntry>& entries) {
  std::string out;
  for (std::string_view set : {"allow4", "allow6"}) {
    std::string elems;
    for (const auto& e : entries) {
      if (setOf(e.vtep) != set) continue;
      if (!elems.empty()) elems += ", ";
      elems += e.vtep.str() + " . " + std::to_string(e.vni);
    }
    if (!elems.empty()) out += std::string(verb) + " element " + tablePath() + " " + std::string(set) + " { " + elems + " }\n";
  }
  return out;
}

std::string allowPlanText(const AllowPlan& plan) {
  return allowTableText() + allowElementsText("delete", plan.remove) + allowElementsText("add", plan.add);
}

std::string enforceText(uint16_t port) {
  const std::string c = tablePath() + " " + std::string(kAllowChain);
  const std::string match = "udp dport " + std::to_string(port);
  const std::string tail = " counter drop comment \"" + std::string(kAllowRuleComment) + "\"\n";
  return allowTableText() +                                                                   //
         "add chain " + c + " { type filter hook input priority filter; policy accept; }\n" +  //
         "flush chain " + c + "\n" +                                                          //
         "add rule " + c + " " + match + " ip saddr . @th,96,24 != @allow4" + tail +          //
         "add rule " + c + " " + match + " ip6 saddr . @th,96,24 != @allow6" + tail;
}

std::string relaxText() { return "delete chain " + tablePath() + " " + std::string(kAllowChain) + "\n"; }

Result<AllowListing> parseAllowListing(std::string_view jsonText) {
  json::Doc doc;
  TRY_VOID(json::parseInto(doc, jsonText, "nftables listing of the VXLAN allow-list"));
  const auto* items = json::member(doc, "nftables");
  if (!items || !items->IsArray()) return fail(Code::Internal, "nftables listing has no 'nftables' array");
  AllowListing out;
  for (const auto& item : items->GetArray()) {
    if (const auto* chain = json::member(item, "chain")) {
      if (strOf(json::member(*chain, "table")) == kAllowTable && strOf(json::member(*chain, "name")) == kAllowChain &&
          json::member(*chain, "hook"))
        out.enforced = true;
      continue;
    }
    const auto* set = json::member(item, "set");
    if (!set || strOf(json::member(*set, "table")) != kAllowTable) continue;
    const std::string_view name = strOf(json::member(*set, "name"));
    const int family = name == "allow4" ? AF_INET : name == "allow6" ? AF_INET6 : 0;
    const auto* elems = json::member(*set, "elem");
    if (!family || !elems || !elems->IsArray()) continue;
    for (const auto& e : elems->GetArray())
      if (auto entry = readElement(e, family)) out.entries.insert(*entry);
  }
  return out;
}

}  // namespace ovl::vxlan
