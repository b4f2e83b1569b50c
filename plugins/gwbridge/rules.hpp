// gwbridge's nf_tables objects (built with nfnl, our netlink encoder), and reading our tables back.
//
// Layout. Created with the table's first bridge, shared, never removed: both tables, their chains, maps and
// set, and the rules commented "static". Per bridge, added by its first attachment and removed with its
// last one (or by GC when the bridge has no port left), in one transaction each: the chain br-<bridge>,
// whose comment records the bridge's settings, and the rules commented "ovl-br:<bridge>". Per attachment:
// no rule, only map/set elements for its port mappings, commented "ovl:<network>:<containerID>:<ifname>".
//   table inet ovl_gwbridge
//     map ports4  { type inet_proto . inet_service : ipv4_addr . inet_service; }            any host address
//     map ports4h { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; } hostIP
//     map ports6, ports6h                                                                    the same, IPv6
//     chain prerouting  { type nat hook prerouting priority dstnat; }   static: dnat through the maps
//     chain output      { type nat hook output priority -100; }         static: the same from the host itself
//     chain postrouting { type nat hook postrouting priority srcnat; }  per bridge: masquerade (ipMasq), hairpin
//     chain forward     { type filter hook forward priority filter; }   per bridge: oifname BR jump br-BR
//     chain localnet    { type filter hook prerouting priority -150; }  per bridge: the route_localnet guard
//     chain br-BR       { comment "ipMasq=... icc=... subnets=..."; }   what the host routes into bridge BR:
//         ct state established,related accept                              replies
//         ct status dnat accept                                            published ports (and hairpin)
//         iifname != BR drop                                               anything else from outside BR
//         drop                                                             icc=false: routed from BR back into it
//   table bridge ovl_gwbridge
//     set hairpin { type ifname . ifname; }     "gwbX" . "gwbX" of icc=false attachments with port mappings
//     chain isolation { type filter hook forward priority filter; }   before br_netfilter's forward hook (0),
//                                                                        which would otherwise skip it for IP
//         iifname . oifname @hairpin accept        static: frames a port sends back to itself (hairpin NAT)
//         meta iifgroup G drop / oifgroup G drop   per bridge, icc=false: G is the group of its ports
// Networks that share a bridge must agree on ipMasq, icc and the subnets (BridgeSettings).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gwbridge/ports.hpp"
#include "nfnl/batch.hpp"
#include "nfnl/gwbridge_elements.hpp"
#include "nfnl/gwbridge_names.hpp"
#include "nfnl/listing.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::gwbridge {

using gwnames::kTable;

// Tags (the comment on an element or rule) and veth names: common/nfnl/gwbridge_names.hpp.
using gwnames::bridgeTag;
using gwnames::isOurTag;
using gwnames::isTagOfNetwork;
using gwnames::parseTag;
using gwnames::ruleTag;

// What every network on one bridge must agree on, recorded in the comment of chain br-<bridge>, with the
// layout of the bridge's rules (kBridgeLayout).
inline constexpr int kBridgeLayout = 2;
struct BridgeSettings {
  std::string bridge;
  bool ipMasq = true;
  bool icc = false;
  std::vector<IpNet> subnets;  // masked, sorted, no duplicates

  // "ipMasq=true icc=false subnets=172.18.0.0/16 layout=2"
  std::string stamp() const;
  // nullopt when a stamp read back from the kernel says the same settings (whatever its layout); else which
  // field differs, with both values ("'icc' is true here, false on the bridge").
  std::optional<std::string> disagreement(std::string_view stamp) const;
  // True when the stamp's rules are of an earlier layout than this version writes (layout 1: before the
  // rules were written through nfnl, one masquerade rule with an anonymous set): they are replaced.
  static bool olderLayout(std::string_view stamp);
};

// What one attachment needs. Names must have passed isSafeIfName and the container ID isValidIdentifier;
// the builders refuse anything else.
struct AttachmentRules {
  std::string network;
  std::string containerId;
  std::string ifName;  // CNI_IFNAME of the attachment (the key runtimes use for DEL and GC)
  std::string bridge;
  std::string hostVeth;
  std::vector<IpNet> addrs;  // the container's addresses with their prefix (the bridge subnet)
  bool ipMasq = true;
  bool icc = false;
  std::vector<PortMapping> ports;
};

// The bridge settings an attachment implies.
BridgeSettings settingsOf(const AttachmentRules& a);

// A rule of our tables, as built: family, chain, expressions and comment.
struct RuleSpec {
  nfnl::Family family;
  std::string chain;
  std::vector<nfnl::Expr> exprs;
  std::string comment;
};

// Rule lists joined: a's, then b's.
std::vector<RuleSpec> operator+(std::vector<RuleSpec> a, const std::vector<RuleSpec>& b);

// Both tables with their chains, maps and set (idempotent: no-ops when they exist).
void addTables(nfnl::Batch& b);
// The rules that exist once per table: dnat through the maps, the hairpin accept (comment "static").
std::vector<RuleSpec> staticRules();
// The bridge's rules outside its own chain (comment "ovl-br:<bridge>"), and the rules of its chain br-<bridge>.
Result<std::vector<RuleSpec>> bridgeRules(const BridgeSettings& s);
Result<std::vector<RuleSpec>> bridgeChainRules(const BridgeSettings& s);
// The bridge's chain (its comment records the settings) and all its rules (add only: the caller knows they
// are absent).
Result<void> addBridge(nfnl::Batch& b, const BridgeSettings& s);
void addRules(nfnl::Batch& b, const std::vector<RuleSpec>& rules);

// Map and set elements, and reading them back: common/nfnl/gwbridge_elements.hpp.
using gwnames::Element;
using gwnames::ListedElement;

// The elements of one attachment: per port mapping and address family (the first address of each family),
// one element of ports4/ports4h/ports6/ports6h; with icc=false and any mapping, its hairpin element.
Result<std::vector<Element>> attachmentElements(const AttachmentRules& a);
// Deletes exactly these elements whether or not they exist: each is added first (a no-op when present
// with the same value) and then deleted. An element of the same key with another value (someone else's)
// fails the whole transaction, and nothing is deleted.
Result<void> addDeleteByValue(nfnl::Batch& b, const std::vector<Element>& elems);

// Rules of our tables as listed (family, chain, handle, comment).
using nfnl::ListedRule;
// Deletes the given rules of our tables (others are skipped).
void addDeleteRules(nfnl::Batch& b, const std::vector<ListedRule>& rules);

}  // namespace ovl::gwbridge
