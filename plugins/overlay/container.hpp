// Container side of an attachment: the veth pair, addresses, routes and the gratuitous ARP.
#pragma once

#include <string>

#include "cni/result.hpp"
#include "nl/link.hpp"
#include "nl/socket.hpp"
#include "ns/netns.hpp"
#include "util/error.hpp"

namespace ovl::overlay {

struct ContainerLink {
  nl::LinkInfo host;  // host end (on no bridge yet when just created)
  int index = 0;      // ifindex inside the container
  MacAddr mac;
};

// Creates the pair (host end `hostName`, container end `ifName` inside `netns`), on no bridge: it needs no
// lock (nl::setLinkMaster puts it on the network's bridge, under the network's HostLock). An end that
// exists already is an InvalidConfig error naming it.
Result<ContainerLink> createContainerLink(nl::Socket& host, const ns::Netns& netns, const std::string& hostName,
                                          const std::string& ifName, unsigned mtu, const MacAddr& mac);

// How long the container's kernel waits before it asks again for an unanswered ARP (its default: 1,000).
inline constexpr int kArpRetransmitMs = 100;

// Inside the container: ARP locktime 0, the ARP retransmit time above, DAD off (or IPv6 off), addresses and routes from the IPAM result (routes
// without a gateway use the IPAM gateway of their family), link up.
Result<void> configureContainer(const ns::Netns& netns, const ContainerLink& link, const std::string& ifName,
                                const cni::NetResult& ipam);

// One gratuitous ARP per IPv4 address, so the other hosts' VXLAN devices and containers learn the new
// location at once: sent by the container's kernel (arp_notify, triggered by setting the link's own MAC
// again), not from a packet socket, whose close waits for an RCU grace period (10-20 ms per ADD). Failures
// are logged, never fatal.
void announce(const ns::Netns& netns, const ContainerLink& link, const std::string& ifName, const cni::NetResult& ipam);

}  // namespace ovl::overlay
