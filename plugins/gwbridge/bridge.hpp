// Host-side objects: the gateway bridge with its address, the container's bridge port, forwarding.
#pragma once

#include <string>
#include <string_view>

#include "gwbridge/config.hpp"
#include "nfnl/gwbridge_names.hpp"
#include "nl/link.hpp"
#include "nl/socket.hpp"
#include "nl/veth.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::gwbridge {

using gwnames::hostVethName;  // common/nfnl/gwbridge_names.hpp

// The container interface's MAC, stable for an attachment.
MacAddr containerMac(std::string_view containerId, std::string_view ifName);

// Creates or verifies the bridge and brings it up.
Result<nl::LinkInfo> ensureGatewayBridge(nl::Socket& host, const GwConf& conf);

// Puts the gateway address (gateway/prefix of the subnet) on the bridge; present is success.
Result<void> ensureGatewayAddress(nl::Socket& host, int bridgeIndex, const IpNet& gateway);

// Turns on forwarding for the family in the calling thread's netns (written only when off).
Result<void> ensureForwarding(int family);

// route_localnet on the bridge, so that the host's own connections to 127.0.0.1 reach published ports
// (DNAT to a container, then masquerade). Turn it on only after the rules that keep loopback addresses from
// arriving through the bridge (the localnet chain, rules.hpp) are in place.
Result<void> ensureLocalnetRouting(std::string_view bridge);

// Creates the veth pair with its host end enslaved to the bridge (hairpin as configured, in the bridge's
// interface group, gwnames::bridgeGroup) and the
// container end named containerIfName inside the container. A leftover host end of an earlier ADD of the
// same attachment is removed first.
Result<nl::VethPair> createPort(nl::Socket& host, const nl::LinkInfo& bridge, const GwConf& conf,
                                std::string_view hostName, std::string_view containerIfName, int netnsFd,
                                const MacAddr& mac);

}  // namespace ovl::gwbridge
