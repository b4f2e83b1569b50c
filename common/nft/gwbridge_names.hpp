// What gwbridge leaves on a host is named here, so that overlayctl's diag reads the same names gwbridge
// writes: the comment tagging an attachment's nftables rules, and the host end of its veth.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ovl::gwnames {

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

// Host end of an attachment's veth: "gwb" + 12 hex digits of a hash of "<containerID>:<ifname>".
std::string hostVethName(std::string_view containerId, std::string_view ifName);

}  // namespace ovl::gwnames
