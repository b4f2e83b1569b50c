// CNI spec versions we speak.
#pragma once

#include <array>
#include <string_view>

#include "util/error.hpp"

namespace ovl::cni {

inline constexpr std::array<std::string_view, 5> kSupportedVersions = {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};
inline constexpr std::string_view kLatestVersion = "1.1.0";

// Compares dotted versions numerically; malformed parts compare as 0.
int compareVersions(std::string_view a, std::string_view b);
bool isSupported(std::string_view v);
// Code::IncompatibleVersion naming the version when unsupported.
Result<void> requireSupported(std::string_view v, std::string_view field = "cniVersion");

}  // namespace ovl::cni
