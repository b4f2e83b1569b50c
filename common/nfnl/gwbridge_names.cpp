#include "nfnl/gwbridge_names.hpp"

#include <cctype>
#include <cstdio>

#include "util/ip.hpp"

namespace ovl::gwnames {

bool isSafeIfName(std::string_view s) {
  if (s.empty() || s.size() > 15 || s == "." || s == "..") return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

namespace {

constexpr size_t kMaxComment = 127;  // NFT_USERDATA_MAXLEN is 256, nft(8) limits comments to 128 with the NUL

std::string hex64(uint64_t v) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(v));
  return hex;
}

bool readableTag(std::string_view network, std::string_view containerId, std::string_view ifName) {
  return isValidIdentifier(network) && isValidIdentifier(containerId) && isSafeIfName(ifName) &&
         4 + network.size() + 1 + containerId.size() + 1 + ifName.size() <= kMaxComment;
}

}  // namespace

std::string ruleTag(std::string_view network, std::string_view containerId, std::string_view ifName) {
  if (readableTag(network, containerId, ifName))
    return "ovl:" + std::string(network) + ":" + std::string(containerId) + ":" + std::string(ifName);
  return "ovl#" + hex64(fnv1a(network)) + ":" + hex64(fnv1a(std::string(containerId) + "\n" + std::string(ifName)));
}

bool isTagOfNetwork(std::string_view tag, std::string_view network) {
  // Network names and container IDs contain no ':', so the readable prefix is unambiguous.
  return tag.starts_with("ovl:" + std::string(network) + ":") || tag.starts_with("ovl#" + hex64(fnv1a(network)) + ":");
}

std::optional<std::pair<std::string, std::string>> parseTag(std::string_view tag, std::string_view network) {
  const std::string prefix = "ovl:" + std::string(network) + ":";
  if (!tag.starts_with(prefix)) return std::nullopt;
  std::string_view rest = tag.substr(prefix.size());
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string cid(rest.substr(0, colon)), ifn(rest.substr(colon + 1));
  if (!isValidIdentifier(cid) || !isSafeIfName(ifn)) return std::nullopt;
  return std::make_pair(cid, ifn);
}

bool isOurTag(std::string_view c) { return c.starts_with("ovl:") || c.starts_with("ovl#"); }

std::optional<std::string> tagNetwork(std::string_view tag) {
  if (!tag.starts_with("ovl:")) return std::nullopt;
  tag.remove_prefix(4);
  const size_t colon = tag.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  return std::string(tag.substr(0, colon));
}

std::string bridgeTag(std::string_view bridge) { return "ovl-br:" + std::string(bridge); }

std::optional<std::string> parseBridgeTag(std::string_view comment) {
  if (!comment.starts_with("ovl-br:")) return std::nullopt;
  comment.remove_prefix(7);
  if (!isSafeIfName(comment)) return std::nullopt;
  return std::string(comment);
}

std::string bridgeChain(std::string_view bridge) { return "br-" + std::string(bridge); }

uint32_t bridgeGroup(std::string_view bridge) {
  const uint64_t h = fnv1a("gwbridge-group:" + std::string(bridge));
  // 31 bits: iproute2 reads and prints groups as signed integers.
  const auto g = static_cast<uint32_t>(h ^ (h >> 32)) & 0x7fffffffu;
  return g == 0 ? 1 : g;
}

std::string hostVethName(std::string_view containerId, std::string_view ifName) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(fnv1a(std::string(containerId) + ":" + std::string(ifName))));
  return "gwb" + std::string(hex, 12);
}

}  // namespace ovl::gwnames
