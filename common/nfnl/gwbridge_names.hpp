// What gwbridge leaves on a host is named here, so that overlayctl's diag reads the same names gwbridge
// writes: its tables, maps and sets, the comment tagging an attachment's map elements (and the rules of
// versions before the maps), the comment and chain of a bridge's rules, and the host end of its veth.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ovl::gwnames {

inline constexpr std::string_view kTable = "ovl_gwbridge";  // both families, "inet" and "bridge"
// Port mappings (table inet): key [host address .] protocol . host port, value container address . port.
inline constexpr std::string_view kPorts4 = "ports4";    // inet_proto . inet_service : ipv4_addr . inet_service
inline constexpr std::string_view kPorts4h = "ports4h";  // ipv4_addr . inet_proto . inet_service : ...
inline constexpr std::string_view kPorts6 = "ports6";
inline constexpr std::string_view kPorts6h = "ports6h";
// Hairpin (table bridge): ifname . ifname of the ports whose frames may come back to themselves.
inline constexpr std::string_view kHairpin = "hairpin";
// Comment of the rules that exist once per table (map lookups, hairpin accept): never removed.
inline constexpr std::string_view kStaticTag = "static";

// True for names that are safe to quote in nftables rule text and valid kernel interface names:
// 1..15 characters from [A-Za-z0-9_.-], not "." or "..".
bool isSafeIfName(std::string_view s);

// The comment that tags an attachment's rules: "ovl:<network>:<containerID>:<ifname>", or, when that would
// pass nftables' 128-byte comment limit, "ovl#<hash of network>:<hash of containerID and ifname>".
std::string ruleTag(std::string_view network, std::string_view containerId, std::string_view ifName);
// True when tag is one of ours for an attachment of that network.
bool isTagOfNetwork(std::string_view tag, std::string_view network);
// The containerID and ifname of a readable tag of that network; nullopt for hashed or foreign tags.
std::optional<std::pair<std::string, std::string>> parseTag(std::string_view tag, std::string_view network);
// The network of a readable tag ("ovl:<network>:..."); nullopt for hashed or foreign tags.
std::optional<std::string> tagNetwork(std::string_view tag);
// True for comments our rules carry ("ovl:..." or "ovl#...").
bool isOurTag(std::string_view comment);

// The comment on the rules that exist once per bridge: "ovl-br:<bridge>".
std::string bridgeTag(std::string_view bridge);
// The bridge named by a bridge tag; nullopt for anything else.
std::optional<std::string> parseBridgeTag(std::string_view comment);
// The bridge's own chain in table inet (its forward filter; its comment records the bridge's settings):
// "br-<bridge>".
std::string bridgeChain(std::string_view bridge);
// The interface group of the bridge's container ports (the bridge family's icc=false rules match it): a
// non-zero 31-bit hash of the bridge name.
uint32_t bridgeGroup(std::string_view bridge);

// Host end of an attachment's veth: "gwb" + 12 hex digits of a hash of "<containerID>:<ifname>".
std::string hostVethName(std::string_view containerId, std::string_view ifName);

}  // namespace ovl::gwnames
