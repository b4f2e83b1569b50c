#include "gwbridge/nat.hpp"

#include <algorithm>

#include "nfnl/chain_probe.hpp"
#include "nfnl/listing.hpp"
#include "nl/link.hpp"
#include "util/log.hpp"

namespace ovl::gwbridge {
namespace {

constexpr int kAttempts = 5;

struct Listing {
  std::vector<ListedRule> rules;
  std::vector<ListedElement> elements;
  std::vector<std::string> chains;  // of table inet
};

Result<Listing> listAll() {
  Listing out;
  for (auto family : {nfnl::Family::Inet, nfnl::Family::Bridge}) {
    auto l = TRY(nfnl::listTable(family, kTable));
    if (!l) continue;
    for (auto& r : l->rules) out.rules.push_back(std::move(r));
    for (auto& e : gwnames::elementsOf(*l)) out.elements.push_back(std::move(e));
    for (const auto& c : l->chains)
      if (family == nfnl::Family::Inet) out.chains.push_back(c.name);
  }
  return out;
}

std::vector<ListedRule> withComment(const std::vector<ListedRule>& rules, std::string_view comment) {
  std::vector<ListedRule> out;
  std::copy_if(rules.begin(), rules.end(), std::back_inserter(out),
               [&](const ListedRule& r) { return r.comment == comment; });
  return out;
}

std::vector<Element> elementsIn(const std::vector<ListedElement>& listed) {
  std::vector<Element> out;
  for (const auto& l : listed) out.push_back(l.elem);
  return out;
}

// Under the exclusive lock, the bridge's rules absent: the tables (idempotent), the static rules when the
// table has none yet, and the bridge's rules; leftovers tagged for the bridge go in the same transaction.
Result<void> createBridgeRules(const BridgeSettings& s) {
  for (int attempt = 1;; ++attempt) {
    auto l = TRY(listAll());
    const bool hasStatic = std::any_of(l.rules.begin(), l.rules.end(),
                                       [](const ListedRule& r) { return r.comment == gwnames::kStaticTag; });
    nfnl::Batch b;
    addTables(b);
    if (!hasStatic) addRules(b, staticRules());
    addDeleteRules(b, withComment(l.rules, bridgeTag(s.bridge)));
    // The bridge's chain of an earlier layout (or a leftover): replaced, in the same transaction.
    if (const std::string chain = gwnames::bridgeChain(s.bridge);
        std::find(l.chains.begin(), l.chains.end(), chain) != l.chains.end()) {
      b.flushChain(nfnl::Family::Inet, kTable, chain);
      b.deleteChain(nfnl::Family::Inet, kTable, chain);
    }
    TRY_VOID(addBridge(b, s));
    auto r = b.commit("adding the rules of bridge " + s.bridge);
    if (r) return {};
    if (attempt >= kAttempts) return fail(std::move(r.error()));
  }
}

Result<std::optional<std::string>> checkedStamp(const BridgeSettings& s) {
  auto stamp = TRY(findBridgeStamp(s.bridge));
  if (stamp)
    if (auto why = s.disagreement(*stamp)) return fail(Code::InvalidConfig, *why);
  return stamp;
}

Result<int> countPorts(std::string_view bridge) {
  auto host = TRY(nl::Socket::open());
  auto br = TRY(nl::findLink(host, bridge));
  if (!br) return 0;
  return static_cast<int>(TRY(nl::dumpPorts(host, br->index)).size());
}

}  // namespace

Result<std::vector<ListedRule>> listRules() { return std::move(TRY(listAll()).rules); }

Result<std::vector<ListedElement>> listElements() { return std::move(TRY(listAll()).elements); }

Result<std::optional<std::string>> findBridgeStamp(std::string_view bridge) {
  return nfnl::findChainComment("inet", kTable, gwnames::bridgeChain(bridge));
}

Result<bool> ensureBridgeRules(const BridgeSettings& s, BridgeLock& lock) {
  bool created = false;
  // Present, and of this version's layout (rules of an earlier layout are rewritten, settings kept).
  auto current = [&](const std::optional<std::string>& stamp) { return stamp && !BridgeSettings::olderLayout(*stamp); };
  for (int attempt = 1;; ++attempt) {
    if (current(TRY(checkedStamp(s)))) return created;
    if (attempt > kAttempts) return fail(Code::Internal, "the rules of bridge " + s.bridge + " keep disappearing");
    lock.unlock();
    {
      auto ex = TRY(BridgeLock::exclusive());
      if (auto stamp = TRY(checkedStamp(s)); !current(stamp)) {
        TRY_VOID(createBridgeRules(s));
        created = true;
        log::info(std::string(stamp ? "rewrote the rules of bridge " + s.bridge + " from '" + *stamp + "'"
                                    : "added the rules of bridge " + s.bridge) +
                  " (" + s.stamp() + ")");
      }
    }
    // Shared again; a DEL that removed the rules in between makes the next round create them again.
    lock = TRY(BridgeLock::shared());
  }
}

Result<bool> releaseBridgeIfUnused(std::string_view bridge) {
  auto ex = TRY(BridgeLock::exclusive());
  if (TRY(countPorts(bridge)) > 0) return false;
  if (!TRY(findBridgeStamp(bridge))) return false;
  const std::string chain = gwnames::bridgeChain(bridge);
  for (int attempt = 1;; ++attempt) {
    auto l = TRY(listAll());
    nfnl::Batch b;
    addDeleteRules(b, withComment(l.rules, bridgeTag(bridge)));
    if (std::find(l.chains.begin(), l.chains.end(), chain) != l.chains.end()) {
      b.flushChain(nfnl::Family::Inet, kTable, chain);
      b.deleteChain(nfnl::Family::Inet, kTable, chain);
    }
    auto r = b.commit("removing the rules of bridge " + std::string(bridge));
    if (r) break;
    if (attempt >= kAttempts) return fail(std::move(r.error()));
  }
  log::info("removed the rules of bridge " + std::string(bridge) + ": no port left");
  return true;
}

Result<void> addElements(const std::vector<Element>& elems, std::string_view tag) {
  if (elems.empty()) return {};
  nfnl::Batch b;
  TRY_VOID(gwnames::addElements(b, elems, tag));
  auto r = b.commit("adding the port mappings of " + std::string(tag));
  if (r) return {};
  // Most likely a host port someone else holds: name them.
  if (auto listed = listElements()) {
    for (const auto& e : elems)
      for (const auto& l : *listed)
        if (l.elem.family == e.family && l.elem.set == e.set && l.elem.key == e.key && l.comment != tag)
          return fail(Code::InvalidConfig, "host port " + e.key + " (" + e.set + ") is already mapped to " +
                                               l.elem.value + " by " + (l.comment.empty() ? "someone" : l.comment));
  }
  return fail(std::move(r.error()));
}

Result<void> removeElements(const std::vector<Element>& elems, std::string_view tag) {
  if (elems.empty()) return {};
  nfnl::Batch byValue;
  TRY_VOID(addDeleteByValue(byValue, elems));
  auto r = byValue.commit("deleting the port mappings of " + std::string(tag));
  if (r) return {};
  log::debug("deleting by value failed (" + r.error().msg + "): deleting by tag");
  for (int attempt = 1;; ++attempt) {
    auto listed = TRY(listElements());
    std::erase_if(listed, [&](const ListedElement& l) { return l.comment != tag; });
    nfnl::Batch b;
    TRY_VOID(gwnames::deleteElements(b, elementsIn(listed)));
    auto d = b.commit("deleting the port mappings of " + std::string(tag));
    if (d) return {};
    if (attempt >= kAttempts) return fail(std::move(d.error()));
  }
}

Result<void> removeRulesOf(std::string_view tag) {
  for (int attempt = 1;; ++attempt) {
    std::vector<ListedRule> tagged;
    for (auto family : {nfnl::Family::Inet, nfnl::Family::Bridge})
      for (auto& r : TRY(nfnl::listRules(family, kTable)))
        if (r.comment == tag) tagged.push_back(std::move(r));
    if (tagged.empty()) return {};
    nfnl::Batch b;
    addDeleteRules(b, tagged);
    auto r = b.commit("deleting the rules of " + std::string(tag) + " left by an earlier version");
    if (r) return {};
    if (attempt >= kAttempts) return fail(std::move(r.error()));
  }
}

Result<std::set<std::string>> removeAllExcept(std::string_view network, const std::set<std::string>& keepTags) {
  auto stale = [&](const std::string& c) { return isTagOfNetwork(c, network) && !keepTags.contains(c); };
  for (int attempt = 1;; ++attempt) {
    auto l = TRY(listAll());
    std::set<std::string> tags;
    std::erase_if(l.elements, [&](const ListedElement& e) { return !stale(e.comment); });
    std::erase_if(l.rules, [&](const ListedRule& r) { return !stale(r.comment); });
    for (const auto& e : l.elements) tags.insert(e.comment);
    for (const auto& r : l.rules) tags.insert(r.comment);
    nfnl::Batch b;
    TRY_VOID(gwnames::deleteElements(b, elementsIn(l.elements)));
    addDeleteRules(b, l.rules);
    auto r = b.commit("deleting the mappings of stale attachments of network " + std::string(network));
    if (r) return tags;
    if (attempt >= kAttempts) return fail(std::move(r.error()));
  }
}

}  // namespace ovl::gwbridge
