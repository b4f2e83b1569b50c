#include "gwbridge/nat.hpp"

#include <algorithm>

#include "nft/chain_probe.hpp"
#include "nl/link.hpp"
#include "util/log.hpp"

namespace ovl::gwbridge {
namespace {

constexpr int kAttempts = 5;

struct Listing {
  std::vector<ListedRule> rules;
  std::vector<ListedElement> elements;
  std::vector<std::string> chains;
};

Result<Listing> listAll(nft::Nft& nft) {
  Listing out;
  for (std::string_view family : {"inet", "bridge"}) {
    auto text = TRY(nft.listTable(family, kTable));
    if (!text) continue;
    for (auto& r : TRY(parseListing(*text))) out.rules.push_back(std::move(r));
    for (auto& e : TRY(parseElements(*text))) out.elements.push_back(std::move(e));
    for (auto& c : TRY(parseChains(*text))) out.chains.push_back(std::move(c));
  }
  return out;
}

std::vector<ListedRule> withComment(const std::vector<ListedRule>& rules, std::string_view comment) {
  std::vector<ListedRule> out;
  std::copy_if(rules.begin(), rules.end(), std::back_inserter(out),
               [&](const ListedRule& r) { return r.comment == comment; });
  return out;
}

std::string plainDeleteText(const std::vector<ListedElement>& elems) {
  std::string out;
  for (const auto& e : elems) out += gwnames::deleteElementText(e.elem);
  return out;
}

// Under the exclusive lock, the bridge's rules absent: the tables (idempotent), the static rules when the
// table has none yet, and the bridge's rules; leftovers tagged for the bridge go in the same transaction.
Result<void> createBridgeRules(const BridgeSettings& s) {
  auto nft = TRY(nft::Nft::open());
  const std::string add = TRY(bridgeRulesText(s));
  for (int attempt = 1;; ++attempt) {
    auto l = TRY(listAll(nft));
    const bool hasStatic = std::any_of(l.rules.begin(), l.rules.end(),
                                       [](const ListedRule& r) { return r.comment == gwnames::kStaticTag; });
    std::string text = ensureTablesText() + (hasStatic ? "" : staticRulesText()) +
                       deleteText(withComment(l.rules, bridgeTag(s.bridge))) + add;
    auto r = nft.run(text, "adding the rules of bridge " + s.bridge);
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
  int n = 0;
  for (const auto& l : TRY(nl::dumpLinks(host)))
    if (l.master == br->index) ++n;
  return n;
}

}  // namespace

Result<std::vector<ListedRule>> listRules(nft::Nft& nft) { return std::move(TRY(listAll(nft)).rules); }

Result<std::vector<ListedElement>> listElements(nft::Nft& nft) { return std::move(TRY(listAll(nft)).elements); }

Result<std::optional<std::string>> findBridgeStamp(std::string_view bridge) {
  return nft::findChainComment("inet", kTable, gwnames::bridgeChain(bridge));
}

Result<bool> ensureBridgeRules(const BridgeSettings& s, BridgeLock& lock) {
  bool created = false;
  for (int attempt = 1;; ++attempt) {
    if (TRY(checkedStamp(s))) return created;
    if (attempt > kAttempts) return fail(Code::Internal, "the rules of bridge " + s.bridge + " keep disappearing");
    lock.unlock();
    {
      auto ex = TRY(BridgeLock::exclusive());
      if (!TRY(checkedStamp(s))) {
        TRY_VOID(createBridgeRules(s));
        created = true;
        log::info("added the rules of bridge " + s.bridge + " (" + s.stamp() + ")");
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
  auto nft = TRY(nft::Nft::open());
  const std::string chain = gwnames::bridgeChain(bridge);
  for (int attempt = 1;; ++attempt) {
    auto l = TRY(listAll(nft));
    std::string text = deleteText(withComment(l.rules, bridgeTag(bridge)));
    if (std::find(l.chains.begin(), l.chains.end(), chain) != l.chains.end())
      text += "flush chain inet " + std::string(kTable) + " " + chain + "\ndelete chain inet " + std::string(kTable) +
              " " + chain + "\n";
    auto r = nft.run(text, "removing the rules of bridge " + std::string(bridge));
    if (r) break;
    if (attempt >= kAttempts) return fail(std::move(r.error()));
  }
  log::info("removed the rules of bridge " + std::string(bridge) + ": no port left");
  return true;
}

Result<void> addElements(nft::Nft& nft, const std::vector<Element>& elems, std::string_view tag) {
  if (elems.empty()) return {};
  auto r = nft.run(addElementsText(elems, tag), "adding the port mappings of " + std::string(tag));
  if (r) return {};
  // Most likely a host port someone else holds: name them.
  if (auto listed = listElements(nft)) {
    for (const auto& e : elems)
      for (const auto& l : *listed)
        if (l.elem.family == e.family && l.elem.set == e.set && l.elem.key == e.key && l.comment != tag)
          return fail(Code::InvalidConfig, "host port " + e.key + " (" + e.set + ") is already mapped to " +
                                               l.elem.value + " by " + (l.comment.empty() ? "someone" : l.comment));
  }
  return fail(std::move(r.error()));
}

Result<void> removeElements(nft::Nft& nft, const std::vector<Element>& elems, std::string_view tag) {
  if (elems.empty()) return {};
  auto r = nft.run(deleteElementsText(elems), "deleting the port mappings of " + std::string(tag));
  if (r) return {};
  log::debug("deleting by value failed (" + r.error().details + "): deleting by tag");
  for (int attempt = 1;; ++attempt) {
    auto listed = TRY(listElements(nft));
    std::erase_if(listed, [&](const ListedElement& l) { return l.comment != tag; });
    auto d = nft.run(plainDeleteText(listed), "deleting the port mappings of " + std::string(tag));
    if (d) return {};
    if (attempt >= kAttempts) return fail(std::move(d.error()));
  }
}

Result<std::set<std::string>> removeAllExcept(nft::Nft& nft, std::string_view network,
                                              const std::set<std::string>& keepTags) {
  auto stale = [&](const std::string& c) { return isTagOfNetwork(c, network) && !keepTags.contains(c); };
  for (int attempt = 1;; ++attempt) {
    auto l = TRY(listAll(nft));
    std::set<std::string> tags;
    std::erase_if(l.elements, [&](const ListedElement& e) { return !stale(e.comment); });
    std::erase_if(l.rules, [&](const ListedRule& r) { return !stale(r.comment); });
    for (const auto& e : l.elements) tags.insert(e.comment);
    for (const auto& r : l.rules) tags.insert(r.comment);
    auto r = nft.run(plainDeleteText(l.elements) + deleteText(l.rules),
                     "deleting the mappings of stale attachments of network " + std::string(network));
    if (r) return tags;
    if (attempt >= kAttempts) return fail(std::move(r.error()));
  }
}

}  // namespace ovl::gwbridge
