// libFuzzer target: CNI results (an IPAM plugin's stdout, a prevResult) in any version. Whatever parses
// must write in every supported version, parse back, and reach a fixed point after one round trip.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cni/result.hpp"
#include "cni/version.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = ovl::cni::parseResultText(text, "prevResult");
  if (!r) return 0;
  for (auto version : ovl::cni::kSupportedVersions) {
    std::string once = ovl::cni::resultToJson(*r, version);
    auto r1 = ovl::cni::parseResultText(once, "prevResult");
    if (!r1) __builtin_trap();  // we wrote something we cannot read
    std::string twice = ovl::cni::resultToJson(*r1, version);
    if (twice != once) __builtin_trap();  // not a fixed point
    if (version == ovl::cni::kLatestVersion) {
      // 1.1.0 loses nothing but the version string.
      auto same = *r1;
      same.cniVersion = r->cniVersion;
      if (!(same == *r)) __builtin_trap();
    }
  }
  return 0;
}
