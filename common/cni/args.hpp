// CNI_ARGS: "K=V;K=V", case-sensitive keys, any order.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace ovl::cni {

struct CniArgs {
  std::map<std::string, std::string, std::less<>> values;
  std::optional<std::string> get(std::string_view k) const;
};

// Keys every plugin understands; plugins pass their own extra keys.
inline constexpr std::string_view kCommonArgKeys[] = {
    "IgnoreUnknown", "K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID", "IP", "MAC",
};

// Parses CNI_ARGS. Unknown keys (not common, not in `extraKeys`) are an error (code 4) naming the key,
// unless IgnoreUnknown is "1" or "true" (case-insensitive).
Result<CniArgs> parseCniArgs(std::string_view text, std::span<const std::string_view> extraKeys = {});

}  // namespace ovl::cni
