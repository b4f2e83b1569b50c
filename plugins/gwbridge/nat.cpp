#include "gwbridge/nat.hpp"

#include <functional>

#include "util/log.hpp"

namespace ovl::gwbridge {
namespace {

constexpr int kAttempts = 5;

// Lists, selects and deletes in one transaction. A rule deleted by someone else between the listing and
// the transaction fails the whole transaction (nothing is applied); then list again.
Result<std::vector<ListedRule>> removeSelected(nft::Nft& nft, const std::function<bool(const ListedRule&)>& pick,
                                               std::string_view what) {
  for (int attempt = 1;; ++attempt) {
    auto all = TRY(listRules(nft));
    log::debug("listed " + std::to_string(all.size()) + " rules");
    std::vector<ListedRule> doomed;
    for (auto& r : all)
      if (pick(r)) doomed.push_back(std::move(r));
    if (doomed.empty()) return doomed;
    auto r = nft.run(deleteText(doomed), what);
    if (r) return doomed;
    if (attempt >= kAttempts) return fail(std::move(r.error()));
    log::debug(std::string(what) + ": retrying after " + r.error().details);
  }
}

}  // namespace

Result<std::vector<ListedRule>> listRules(nft::Nft& nft) {
  std::vector<ListedRule> out;
  for (std::string_view family : {"inet", "bridge"}) {
    auto text = TRY(nft.listTable(family, kTable));
    if (!text) continue;
    auto rules = TRY(parseListing(*text));
    for (auto& r : rules) out.push_back(std::move(r));
  }
  return out;
}

Result<void> applyRules(nft::Nft& nft, const AttachmentRules& a) {
  const std::string tag = ruleTag(a.network, a.containerId, a.ifName);
  const std::string add = TRY(ruleText(a));
  for (int attempt = 1;; ++attempt) {
    auto all = TRY(listRules(nft));
    std::vector<ListedRule> stale;
    for (auto& r : all)
      if (r.comment == tag) stale.push_back(std::move(r));
    auto r = nft.run(ensureTablesText() + deleteText(stale) + add, "adding the rules of " + tag);
    if (r) return {};
    if (stale.empty() || attempt >= kAttempts) return fail(std::move(r.error()));
  }
}

Result<std::vector<ListedRule>> findRules(nft::Nft& nft, std::string_view tag) {
  auto all = TRY(listRules(nft));
  std::vector<ListedRule> out;
  for (auto& r : all)
    if (r.comment == tag) out.push_back(std::move(r));
  return out;
}

Result<std::vector<ListedRule>> removeRules(nft::Nft& nft, std::string_view tag) {
  return removeSelected(
      nft, [&](const ListedRule& r) { return r.comment == tag; }, "deleting the rules of " + std::string(tag));
}

Result<std::vector<ListedRule>> removeRulesExcept(nft::Nft& nft, std::string_view network,
                                                  const std::set<std::string>& keepTags) {
  return removeSelected(
      nft, [&](const ListedRule& r) { return isTagOfNetwork(r.comment, network) && !keepTags.contains(r.comment); },
      "deleting the rules of stale attachments of network " + std::string(network));
}

}  // namespace ovl::gwbridge
