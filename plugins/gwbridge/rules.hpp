// nftables rule text for gwbridge, and reading our tables back from libnftables' JSON listing.
//
// Layout (created idempotently by every ADD; only rules in these two tables are ever added or deleted):
//   table inet ovl_gwbridge
//     chain prerouting  { type nat hook prerouting priority dstnat; }   port mappings (dnat)
//     chain output      { type nat hook output priority -100; }         port mappings from the host itself
//     chain postrouting { type nat hook postrouting priority srcnat; }  masquerade, hairpin masquerade
//     chain forward     { type filter hook forward priority filter; }   what the host routes into a bridge:
//         oifname BR ct state established,related accept                  replies
//         oifname BR ct status dnat accept                                 published ports (and hairpin)
//         oifname BR iifname != BR drop                                    anything else from outside BR
//         iifname BR oifname BR ip saddr ADDR drop                         icc=false: routed between containers
//         iifname BR oifname BR ip daddr ADDR drop                         (through the gateway's MAC)
//   table bridge ovl_gwbridge
//     chain forward     { type filter hook forward priority 0; }        icc=false: no frames between ports
// Every rule belongs to one attachment of one network and carries comment "ovl:<network>:<containerID>:<ifname>"
// (networks share the bridge; GC of one network must not touch another's rules). The first three forward rules
// concern the whole bridge: every attachment on it adds its own copy (its accepts before its drop, so copies
// in any order filter the same), and the filter goes with the bridge's last attachment.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gwbridge/ports.hpp"
#include "nft/gwbridge_names.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::gwbridge {

inline constexpr std::string_view kTable = "ovl_gwbridge";

// Rule tags (the comment on each rule) and veth names: common/nft/gwbridge_names.hpp.
using gwnames::isOurTag;
using gwnames::isTagOfNetwork;
using gwnames::parseTag;
using gwnames::ruleTag;

// What one attachment needs. Names must have passed isSafeIfName and the container ID isValidIdentifier;
// ruleText refuses anything else.
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

// "add table"/"add chain" commands for both tables (no-ops when they exist).
std::string ensureTablesText();
// "add rule" commands for one attachment.
Result<std::string> ruleText(const AttachmentRules& a);

// One rule of our tables as listed by libnftables (JSON, with handles).
struct ListedRule {
  std::string family;  // "inet" or "bridge"
  std::string chain;
  uint64_t handle = 0;
  std::string comment;
  // Filled for dnat rules: the mapped protocol/host port/host address and the container address.
  std::optional<Proto> proto;
  uint16_t dport = 0;
  std::optional<IpAddr> hostIp;
  std::optional<IpAddr> dnatAddr;
  // Filled for masquerade rules that match one source address.
  std::optional<IpAddr> saddr;
};

// Parses the output of "list table <family> ovl_gwbridge" in JSON; rules of other tables are ignored.
Result<std::vector<ListedRule>> parseListing(std::string_view jsonText);

// "delete rule" commands for the given rules.
std::string deleteText(const std::vector<ListedRule>& rules);

}  // namespace ovl::gwbridge
