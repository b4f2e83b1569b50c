// diag: gwbridge's port mappings (elements of the maps and sets of tables "inet ovl_gwbridge" and "bridge
// ovl_gwbridge"), and rules of versions before the maps, whose container is gone from this host. The names are
// gwbridge's own (common/nfnl/gwbridge_names.hpp, gwbridge_elements.hpp): each element (or old rule) carries the
// tag of its attachment, readable ("ovl:<network>:<containerID>:<ifname>") or hashed ("ovl#..." when too long
// for a comment), and the attachment's host veth is "gwb..." of (containerID, ifname). The rules a bridge
// has once ("ovl-br:<bridge>") and the static ones are not an attachment's and are not reported.
#include <memory>

#include "nfnl/batch.hpp"
#include "nfnl/gwbridge_elements.hpp"
#include "nfnl/gwbridge_names.hpp"
#include "nfnl/listing.hpp"
#include "overlayctl/diag.hpp"

namespace ovl::ctl {
namespace {

struct Owner {
  std::string network, containerId;  // containerId "" when the tag is hashed and matches no attachment
};

// Whose rule this is, and whether that attachment still lives on this host (its record in the store, or for a
// readable tag its gwbridge veth). A hashed tag is matched against every attachment of this host.
std::optional<std::pair<Owner, bool>> ownerOf(const DiagInput& in, std::string_view comment) {
  if (!gwnames::isOurTag(comment)) return std::nullopt;
  for (const auto& a : in.snap.attachments)
    if (a.host == in.ctx.host && gwnames::ruleTag(a.net, a.containerId, a.ifName) == comment)
      return std::make_pair(Owner{a.net, a.containerId}, true);
  auto net = gwnames::tagNetwork(comment);
  if (!net) {
    // Hashed, and no attachment of this host has it: stale when its network is an overlay network (whose
    // attachments the store records); a standalone gwbridge network's rule cannot be told apart, so it stays.
    for (const auto& [name, _] : in.snap.nets)
      if (gwnames::isTagOfNetwork(comment, name)) return std::make_pair(Owner{name, ""}, false);
    return std::nullopt;
  }
  auto at = gwnames::parseTag(comment, *net);
  if (!at) return std::nullopt;
  const bool live = in.link(gwnames::hostVethName(at->first, at->second)) != nullptr;
  return std::make_pair(Owner{*net, at->first}, live);
}

// A finding for a stale element or rule; the fix commits `fix`.
Finding staleFinding(const std::pair<Owner, bool>& owner, std::string_view comment, const std::string& where,
                     std::string_view what, std::shared_ptr<nfnl::Batch> fix) {
  const std::string who = owner.first.containerId.empty() ? std::string("a container (hashed tag)")
                                                          : "container " + owner.first.containerId;
  Finding f{owner.first.network, "nft-rule-stale", where,
          std::string(what) + " (" + std::string(comment) + ") of " + who +
              ", which no longer exists on this host: its NAT or port mapping still applies to whoever "
              "gets its address",
          [fix]() { return fix->commit("removing a stale rule or element"); }, ""};
  return f;
}

}  // namespace

Result<void> diagNftRules(DiagInput& in, const std::optional<std::string>& net, std::vector<Finding>& out) {
  auto relevant = [&](const std::optional<std::pair<Owner, bool>>& o) {
    return o && !o->second && (!net || o->first.network == *net);
  };
  for (auto family : {nfnl::Family::Inet, nfnl::Family::Bridge}) {
    auto listing = TRY(nfnl::listTable(family, gwnames::kTable));
    if (!listing) continue;
    for (const auto& e : gwnames::elementsOf(*listing)) {
      auto owner = ownerOf(in, e.comment);
      if (!relevant(owner)) continue;
      auto fix = std::make_shared<nfnl::Batch>();
      TRY_VOID(gwnames::deleteElements(*fix, {e.elem}));
      out.push_back(staleFinding(*owner, e.comment, e.elem.str(), "a gwbridge port mapping", fix));
    }
    for (const auto& r : listing->rules) {
      auto owner = ownerOf(in, r.comment);
      if (!relevant(owner)) continue;
      const std::string where = std::string(nfnl::familyName(family)) + " " + std::string(gwnames::kTable) + " " +
                                r.chain + " handle " + std::to_string(r.handle);
      auto fix = std::make_shared<nfnl::Batch>();
      fix->deleteRule(family, gwnames::kTable, r.chain, r.handle);
      out.push_back(staleFinding(*owner, r.comment, where, "a gwbridge rule", fix));
    }
  }
  return {};
}

}  // namespace ovl::ctl
