#include "overlay/container.hpp"

#include <linux/ip.h>

#include <cerrno>
#include <cstring>

#include "nl/addr.hpp"
#include "nl/link.hpp"
#include "nl/neigh_parms.hpp"
#include "nl/route.hpp"
#include "nl/veth.hpp"
#include "ns/sysctl.hpp"
#include "util/log.hpp"
#include "util/rollback.hpp"
#include "util/unique_fd.hpp"

namespace ovl::overlay {

Result<ContainerLink> createContainerLink(nl::Socket& host, const ns::Netns& netns, const std::string& hostName,
                                          const std::string& ifName, unsigned mtu, const MacAddr& mac) {
  auto pair = nl::createVeth(host, hostName, ifName, netns.fd(), mtu, mac, nl::HostIpv6::Off);
  if (!pair) {
    if (pair.error().sysErrno == EEXIST) {
      auto hostEnd = nl::findLink(host, hostName);
      if (hostEnd && *hostEnd)
        return fail(Code::InvalidConfig, "host interface '" + hostName + "' of this attachment (container ID and "
                                             "CNI_IFNAME '" + ifName + "') already exists: an earlier ADD was not "
                                             "deleted; run DEL first");
      return fail(Code::InvalidConfig, "interface '" + ifName + "' already exists in " + netns.path() +
                                           ": another network or plugin of this container uses that name; "
                                           "give this network another interface name (CNI_IFNAME)");
    }
    return fail(std::move(pair.error()));
  }
  ContainerLink l;
  l.host = pair->host;
  l.index = pair->peerIndex;
  l.mac = mac;
  return l;
}

Result<void> configureContainer(const ns::Netns& netns, const ContainerLink& link, const std::string& ifName,
                                const cni::NetResult& ipam) {
  bool hasV6 = false;
  for (const auto& ip : ipam.ips) hasV6 |= ip.address.addr().isV6();
  auto s = TRY(nl::Socket::openInNetns(netns.fd()));
  // Over netlink, not /proc/sys: every container's "eth0" directory there hangs off one shared parent, so a
  // sysctl path walk costs O(containers on the node) (nl/neigh_parms.hpp).
  // locktime 0: a gratuitous ARP must always override: with the default (1 s) a container that refreshed its
  // entry for an address within the last second ignores the new owner's announcement, and keeps sending to
  // the old MAC (the stale-entry bug Docker's overlay had after an IP moved).
  // retrans_time_ms: the overlay is one L2 segment whose peers answer within a millisecond or two: an ARP
  // request lost on a busy host (a full input backlog) would otherwise cost the kernel's default 1 s before
  // it asks again, the whole of a first contact's tail. Three solicitations still declare a gone peer
  // unreachable, after 300 ms instead of 3 s.
  if (auto r = nl::setArpParms(s, link.index, {.retransMs = kArpRetransmitMs, .locktimeMs = 0}); !r)
    log::warn("setting the ARP retransmit time and locktime on " + ifName + " failed, ignoring: " + r.error().msg);
  {
    // The IPv6 settings have no netlink form.
    auto in = TRY(ns::ScopedNetns::enter(netns));
    if (hasV6) {
      // DAD would hold the address tentative for ~2 s (plugins#680); the IPAM guarantees uniqueness.
      auto r = ns::writeSysctl("net/ipv6/conf/" + ifName + "/accept_dad", "0");
      if (!r) log::warn("disabling DAD on " + ifName + " failed, ignoring: " + r.error().msg);
    } else {
      // An IPv4-only overlay: no IPv6 on the link (as Docker does for networks without IPv6). Its link-local
      // address would send router solicitations and MLD reports, again and again, which only flood to every
      // member host; nothing answers them.
      auto r = ns::writeSysctl("net/ipv6/conf/" + ifName + "/disable_ipv6", "1");
      if (!r) log::debug("no IPv6 on " + ifName + ": " + r.error().msg + " (IPv6 off in the kernel?)");
    }
  }
  for (const auto& ip : ipam.ips) TRY_VOID(nl::addAddress(s, link.index, ip.address, ip.address.addr().isV6()));
  TRY_VOID(nl::setLinkUp(s, link.index, true));
  for (const auto& r : ipam.routes) {
    nl::RouteSpec rs;
    rs.dst = r.dst.masked();
    rs.gw = r.gw;
    if (!rs.gw)
      for (const auto& ip : ipam.ips)
        if (ip.gateway && ip.gateway->family() == r.dst.family()) rs.gw = ip.gateway;
    rs.ifindex = link.index;
    if (r.mtu) rs.mtu = unsigned(*r.mtu);
    if (r.advmss) rs.advmss = unsigned(*r.advmss);
    if (r.priority) rs.priority = int(*r.priority);
    if (r.table) rs.table = unsigned(*r.table);
    if (r.scope) rs.scope = int(*r.scope);
    TRY_VOID(mapError(nl::addRoute(s, rs), [&](Error e) { return std::move(e).context("route " + r.dst.str()); }));
  }
  return {};
}

void announce(const ns::Netns& netns, const ContainerLink& link, const std::string& ifName, const cni::NetResult& ipam) {
  bool v4 = false;
  for (const auto& ip : ipam.ips) v4 |= ip.address.addr().isV4();
  if (!v4) return;
  auto sent = [&]() -> Result<void> {
    auto s = TRY(nl::Socket::openInNetns(netns.fd()));
    TRY_VOID(nl::setLinkIpv4Conf(s, link.index, IPV4_DEVCONF_ARP_NOTIFY, 1));  // net/ipv4/conf/<if>/arp_notify
    return nl::setLinkMac(s, link.index, link.mac);  // NETDEV_CHANGEADDR: the kernel announces every address
  }();
  if (!sent) log::warn("gratuitous ARP from " + ifName + " failed, ignoring: " + sent.error().msg);
}

}  // namespace ovl::overlay
