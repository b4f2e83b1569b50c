// gwbridge's network configuration: the plugin keys, the effective IPAM section and the port mappings.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cni/config.hpp"
#include "cni/skel.hpp"
#include "gwbridge/ports.hpp"
#include "nfnl/gwbridge_names.hpp"
#include "util/error.hpp"

namespace ovl::gwbridge {

using gwnames::isSafeIfName;

inline constexpr std::string_view kDefaultBridge = "cni_gwbridge";
inline constexpr std::string_view kDefaultSubnet = "172.18.0.0/16";
// Chained without "ifName": "gw-" + CNI_IFNAME (cut to 15 characters), a name no runtime gives (podman and
// containerd number eth0, eth1, ... per network, Multus net1, net2, ...).
inline constexpr std::string_view kChainedIfNamePrefix = "gw-";
std::string defaultChainedIfName(std::string_view cniIfName);
inline constexpr std::string_view kDefaultIpamType = "overlay-ipam";

struct GwConf {
  std::string bridge{kDefaultBridge};
  std::string ifName;  // the container-side name when chained after another plugin; empty: the default
  unsigned mtu = 0;    // 0: kernel default
  bool defaultRoute = true;
  bool ipMasq = true;
  bool icc = false;
  bool hairpin = true;
  std::string ipamType;   // the IPAM plugin to run
  std::string ipamStdin;  // what it gets on stdin: our stdin, with the default ipam section when absent
  bool defaultIpam = false;
  // The IPAM pool may hold other networks' leases (the default section, or an explicit "pool" other than
  // the network's name): IPAM's GC, which knows only attachments, must not run on it.
  bool sharedPool = false;
  std::vector<PortMapping> portMappings;  // runtimeConfig.portMappings
};

// Parses gwbridge's keys from conf (already parsed by the skeleton). stdinData is the raw configuration,
// passed on unchanged to the IPAM plugin when it has an ipam section.
// Keys: bridge, ifName, mtu, defaultRoute, ipMasq, icc, hairpin, ipam, runtimeConfig.portMappings.
// With lenientPorts (DEL) invalid port mappings are ignored: DEL must not fail on what only ADD uses.
Result<GwConf> parseGwConf(const cni::NetConf& conf, std::string_view stdinData, bool lenientPorts = false);

// True when gwbridge runs after another plugin that put interfaces in the container.
bool isChained(const cni::NetConf& conf);

// The arguments gwbridge's IPAM plugin runs with. CNI_ARGS reaches every plugin of a list, and IP= (podman's
// --ip) names the address of the plugin gwbridge is chained after: when chained, and on DEL (which releases
// by owner), IP= is dropped so that the bridge's pool allocates as usual. Standalone ADD keeps it.
cni::CmdArgs ipamArgs(const cni::CmdArgs& args, const cni::NetConf& conf);

// The default IPAM section for a bridge: overlay-ipam with the local file store, subnet 172.18.0.0/16,
// in a pool named after the bridge so that every network on a host shares the gateway bridge's addresses.
std::string defaultIpamJson(std::string_view bridge);

}  // namespace ovl::gwbridge
