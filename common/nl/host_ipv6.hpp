// IPv6 on the devices we create in the host namespace (bridges, VXLAN devices, host ends of veths).
//
// The kernel's defaults give every new device a link-local address and, with forwarding off, accept_ra=1:
// a router advertisement from a container on one of our bridges would install a default route and an
// address on the host (the CVE-2020-10749 class), and the link-local address would make the host
// reachable from inside an overlay. Containers keep IPv6 in their own namespaces; this is about the host.
#pragma once

#include "nl/link.hpp"
#include "nl/socket.hpp"
#include "util/error.hpp"

namespace ovl::nl {

enum class HostIpv6 {
  // disable_ipv6=1: no IPv6 address, route or packet on the device at all. Also addr_gen_mode none and
  // accept_ra 0, so that turning IPv6 back on by hand does not bring the defaults back.
  Off,
  // IPv6 stays on for addresses we put there ourselves (the gateway bridge's IPv6 gateway), but the
  // kernel generates no link-local address (addr_gen_mode none) and ignores router advertisements
  // (accept_ra 0). A device found with other settings (made by an older version) also loses what the
  // kernel configured by itself: IPv6 is cycled off and on, which drops its link-local and
  // autoconfigured addresses and RA routes; the caller re-adds its own addresses afterwards.
  NoAutoconf,
};

// Applies the policy to link, idempotently: the settings are read over netlink (RTM_GETLINK), and only
// those that differ are written (sysctls). Call it before the device is first brought up, so no link-local
// address ever appears. Returns true when something had to change. A kernel without IPv6 is success (false).
// Sysctls act in the calling thread's namespace: when something must be written and that is not s's
// namespace, fails (Code::Internal) without touching anything.
Result<bool> ensureHostIpv6(Socket& s, const LinkInfo& link, HostIpv6 mode);

// True when link's IPv6 settings already are what `mode` asks for (or it has no IPv6): one RTM_GETLINK, no
// /proc/sys. A gone link is settled too.
Result<bool> hostIpv6Settled(Socket& s, int index, HostIpv6 mode);

// ensureHostIpv6 on every port of the bridge (existing ports made by an older version); returns how many
// needed a change. One link dump, whose messages carry each port's settings: settled ports cost nothing more.
Result<int> ensurePortsHostIpv6(Socket& s, int bridgeIndex, HostIpv6 mode);

}  // namespace ovl::nl
