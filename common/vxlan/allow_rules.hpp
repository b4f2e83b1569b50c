// The VXLAN allow-list's nf_tables objects, without a kernel: which (VTEP, VNI) pairs may deliver VXLAN to this
// host, the commands that change them (nfnl/batch.hpp), and the rule that drops every other pair (installed only by
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

#include "nfnl/batch.hpp"
#include "nfnl/listing.hpp"
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

// The table and both sets: idempotent, so every batch that changes elements starts with it.
void addAllowTable(nfnl::Batch& b);
// Set allow4 or allow6: key "<family> saddr . @th,96,24", with nft's description of it for `nft list`.
nfnl::SetSpec allowSet(bool v6);
// A set element: the VTEP's address, then the VNI as the VXLAN header carries it (3 bytes), padded to 4.
nfnl::Element allowElement(const AllowEntry& e);
// Applies a plan: the table and sets first, then deletions, then additions.
void addAllowPlan(nfnl::Batch& b, const AllowPlan& plan);
// Installs (or replaces) the dropping chain for VXLAN to UDP `port`.
void addEnforce(nfnl::Batch& b, uint16_t port);
// Removes the dropping chain; the sets stay, so ADDs keep them current for the next watcher.
void addRelax(nfnl::Batch& b);

// Reads the table's listing. Elements that are not an address and a VNI of the set's family are skipped:
// the table is ours, but a reader must not trust the kernel's contents to be well-formed.
AllowListing readAllowListing(const nfnl::Listing& l);

}  // namespace ovl::vxlan
