// libFuzzer target: overlay-ipam's section. Input: "<CNI_ARGS IP value>\n<network configuration>".
// Whatever parses must describe non-empty, well-formed ranges.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cni/config.hpp"
#include "ipam/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::optional<std::string> ipArg;
  if (auto nl = text.find('\n'); nl != std::string_view::npos) {
    if (nl > 0) ipArg = std::string(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  auto conf = ovl::cni::parseNetConf(text, true);
  if (!conf) return 0;
  ovl::kv::NodeConfig node;
  auto ipam = ovl::ipam::parseIpamConf(*conf, node, ovl::ipam::Need::Ranges);
  if (ipam) {
    if (ipam->rangeSets.empty()) __builtin_trap();
    for (const auto& set : ipam->rangeSets) {
      if (set.ranges.empty()) __builtin_trap();
      for (const auto& r : set.ranges) {
        if (r.end < r.start) __builtin_trap();
        if (!r.subnet.contains(r.start) || !r.subnet.contains(r.end)) __builtin_trap();
      }
    }
    if (ipam->dataDir.empty() || ipam->pool.empty()) __builtin_trap();
  }
  (void)ovl::ipam::parseIpamConf(*conf, node, ovl::ipam::Need::Store);
  (void)ovl::ipam::requestedIps(ipArg, *conf);
  return 0;
}
