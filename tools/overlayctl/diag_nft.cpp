// diag: gwbridge's nftables rules (tables "inet ovl_gwbridge" and "bridge ovl_gwbridge") whose container is
// gone from this host. The names are gwbridge's own (common/nft/gwbridge_names.hpp): each rule carries the
// tag of its attachment, readable ("ovl:<network>:<containerID>:<ifname>") or hashed ("ovl#..." when too long
// for a comment), and the attachment's host veth is "gwb..." of (containerID, ifname).
#include <memory>

#include "cni/json.hpp"
#include "nft/gwbridge_names.hpp"
#include "nft/nft.hpp"
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

}  // namespace

Result<void> diagNftRules(DiagInput& in, const std::optional<std::string>& net, std::vector<Finding>& out) {
  auto shared = std::make_shared<nft::Nft>(TRY(nft::Nft::open()));
  for (const char* family : {"inet", "bridge"}) {
    auto listing = TRY(shared->listTable(family, "ovl_gwbridge"));
    if (!listing) continue;
    json::Doc d;
    TRY_VOID(json::parseInto(d, *listing, "nft's JSON listing"));
    const auto* items = d.IsObject() ? json::member(d, "nftables") : nullptr;
    if (!items || !items->IsArray()) continue;
    for (const auto& item : items->GetArray()) {
      const auto* rule = item.IsObject() ? json::member(item, "rule") : nullptr;
      if (!rule || !rule->IsObject()) continue;
      const auto* comment = json::member(*rule, "comment");
      const auto* chain = json::member(*rule, "chain");
      const auto* handle = json::member(*rule, "handle");
      if (!comment || !comment->IsString() || !chain || !chain->IsString() || !handle || !handle->IsUint64()) continue;
      auto owner = ownerOf(in, comment->GetString());
      if (!owner || owner->second || (net && owner->first.network != *net)) continue;
      const std::string where = std::string(family) + " ovl_gwbridge " + chain->GetString() + " handle " +
                                std::to_string(handle->GetUint64());
      const std::string who = owner->first.containerId.empty() ? std::string("a container (hashed tag)")
                                                                : "container " + owner->first.containerId;
      out.push_back({owner->first.network, "nft-rule-stale", where,
                     "a gwbridge rule (" + std::string(comment->GetString()) + ") of " + who +
                         ", which no longer exists on this host: its NAT or port mapping still applies to whoever "
                         "gets its address",
                     [shared, where]() { return shared->run("delete rule " + where, "removing a stale rule"); }, ""});
    }
  }
  return {};
}

}  // namespace ovl::ctl
