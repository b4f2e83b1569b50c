// The VXLAN allow-list's nftables text, without a kernel: which (VTEP, VNI) pairs may deliver VXLAN to this
// host, the commands that change them, and the rule that drops every other pair (installed only by
// `overlay watch`, see vxlan/allow_list.hpp). Pure, so the unit tests check it without privileges.
//
//   table inet ovl_vxlan {
//     set allow4 { typeof ip saddr . @th,96,24; }    # member VTEP . VNI (VXLAN header bytes 4..6)
//     set allow6 { typeof ip6 saddr . @th,96,24; }
//     chain input { type filter hook input priority filter; policy accept;     # only while enforcing
//       udp dport 4789 ip saddr . @th,96,24 != @allow4 counter drop
//       udp dport 4789 ip6 saddr . @th,96,24 != @allow6 counter drop } }
#pragma once

#include <compare>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::vxlan {

inline constexpr std::string_view kAllowFamily = "inet";
inline constexpr std::string_view kAllowTable = "ovl_vxlan";
inline constexpr std::string_view kAllowChain = "input";
// Carried by the enforcing rules; not "ovl:"/"ovl#", which tag gwbridge's per-attachment rules.
inline constexpr std::string_view kAllowRuleComment = "ovl-vxlan: sender is not a member VTEP of the VNI";

// One pair of the allow-list: `vtep` may deliver VXLAN packets that carry `vni`.
struct AllowEntry {
  IpAddr vtep;
  uint32_t vni = 0;
  auto operator<=>(const AllowEntry&) const = default;
};

// What the kernel holds: the pairs of both sets, and whether the dropping chain is installed.
struct AllowListing {
  std::set<AllowEntry> entries;
  bool enforced = false;
  std::set<IpAddr> vteps(uint32_t vni) const;
};

// The changes that make `have`'s pairs for `vni` hold exactly `want` (exact), or at least it (!exact).
struct AllowPlan {
  std::vector<AllowEntry> add, remove;
  bool empty() const { return add.empty() && remove.empty(); }
};
AllowPlan planAllow(const AllowListing& have, uint32_t vni, const std::set<IpAddr>& want, bool exact);

// "add table" and both sets: idempotent, so every batch that changes elements starts with it.
std::string allowTableText();
// "add element ..." / "delete element ..." lines for the pairs, one line per set used.
std::string allowElementsText(std::string_view verb, const std::vector<AllowEntry>& entries);
// The text that applies a plan (table and sets first, then deletions, then additions).
std::string allowPlanText(const AllowPlan& plan);
// Installs (or replaces) the dropping chain for VXLAN to UDP `port`.
std::string enforceText(uint16_t port);
// Removes the dropping chain; the sets stay, so ADDs keep them current for the next watcher.
std::string relaxText();

// Reads `nft -j list table inet ovl_vxlan` (libnftables' JSON). Elements that are not an address and a
// VNI are skipped: the table is ours, but a reader must not trust kernel text to be well-formed.
Result<AllowListing> parseAllowListing(std::string_view jsonText);

}  // namespace ovl::vxlan
