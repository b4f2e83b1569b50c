// libFuzzer target: a network configuration on stdin, through every parser that has no side effects:
// the skeleton's common keys (parseNetConf, peekVersion), gwbridge's keys and port mappings
// (parseGwConf), overlay-ipam's section (parseIpamConf, requestedIps) and the node config file.
// overlay's parseOverlayConf is left out: it reads the node config file from disk.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cni/config.hpp"
#include "cni/version.hpp"
#include "ipam/config.hpp"
#include "gwbridge/config.hpp"
#include "kv/node_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string peek = ovl::cni::peekVersion(text);
  if (!ovl::cni::isSupported(peek)) __builtin_trap();
  (void)ovl::cni::parseNetConf(text, false);
  (void)ovl::kv::parseNodeConfig(text, "fuzz");
  auto conf = ovl::cni::parseNetConf(text, true);
  if (!conf) return 0;
  if (!ovl::cni::isSupported(conf->cniVersion)) __builtin_trap();
  if (conf->prevResult) (void)ovl::cni::resultToJson(*conf->prevResult, conf->cniVersion);
  if (auto gw = ovl::gwbridge::parseGwConf(*conf, text)) {
    if (!ovl::gwbridge::isSafeIfName(gw->bridge)) __builtin_trap();
    if (!gw->ifName.empty() && !ovl::gwbridge::isSafeIfName(gw->ifName)) __builtin_trap();  // empty: the default
    // The IPAM stdin we would hand on must itself be a valid configuration.
    if (!ovl::cni::parseNetConf(gw->ipamStdin, true)) __builtin_trap();
  }
  ovl::kv::NodeConfig node;
  for (auto need : {ovl::ipam::Need::Store, ovl::ipam::Need::Ranges}) (void)ovl::ipam::parseIpamConf(*conf, node, need);
  (void)ovl::ipam::requestedIps(std::nullopt, *conf);
  return 0;
}
