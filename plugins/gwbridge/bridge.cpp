#include "gwbridge/bridge.hpp"

#include <sys/socket.h>

#include <cstdio>

#include "nl/addr.hpp"
#include "nl/bridge.hpp"
#include "ns/sysctl.hpp"
#include "util/rollback.hpp"

namespace ovl::gwbridge {

MacAddr containerMac(std::string_view containerId, std::string_view ifName) {
  return MacAddr::fromSeed("gwbridge:" + std::string(containerId) + ":" + std::string(ifName));
}

Result<nl::LinkInfo> ensureGatewayBridge(nl::Socket& host, const GwConf& conf) {
  nl::BridgeSpec spec;
  spec.name = conf.bridge;
  // A bridge without a MAC of its own takes its lowest port's, so the gateway's MAC would change as
  // containers come and go, leaving stale ARP entries in the others.
  spec.mac = MacAddr::fromSeed("gwbridge-bridge:" + conf.bridge);
  // IPv6 stays on for an IPv6 gateway address, but no link-local address and no router advertisements:
  // a container must not configure the host's routing.
  spec.ipv6 = nl::HostIpv6::NoAutoconf;
  // Ports made by an older version have IPv6 on; that version left the bridge unsettled too, so they are
  // swept only then, before the bridge is settled (a failed sweep is retried by the next ADD), and a
  // settled bridge costs no dump of every link (vxlan::ensureNetDevices does the same).
  if (auto existing = TRY(nl::findLink(host, conf.bridge));
      existing && !TRY(nl::hostIpv6Settled(host, existing->index, nl::HostIpv6::NoAutoconf)))
    TRY_VOID(nl::ensurePortsHostIpv6(host, existing->index, nl::HostIpv6::Off));
  return nl::ensureBridge(host, spec);
}

Result<void> ensureGatewayAddress(nl::Socket& host, int bridgeIndex, const IpNet& gateway) {
  return nl::addAddress(host, bridgeIndex, gateway, /*noDad=*/true);
}

Result<void> ensureForwarding(int family) {
  const char* key = family == AF_INET6 ? "net/ipv6/conf/all/forwarding" : "net/ipv4/ip_forward";
  auto cur = ns::readSysctl(key);
  if (cur && *cur == "1") return {};
  return ns::writeSysctl(key, "1");
}

Result<void> ensureLocalnetRouting(std::string_view bridge) {
  const std::string key = "net/ipv4/conf/" + std::string(bridge) + "/route_localnet";
  auto cur = ns::readSysctl(key);
  if (cur && *cur == "1") return {};
  return ns::writeSysctl(key, "1");
}

Result<nl::VethPair> createPort(nl::Socket& host, const nl::LinkInfo& bridge, const GwConf& conf,
                                std::string_view hostName, std::string_view containerIfName, int netnsFd,
                                const MacAddr& mac) {
  TRY_VOID(nl::deleteLink(host, hostName));
  auto veth = TRY(nl::createVeth(host, hostName, containerIfName, netnsFd, conf.mtu, mac, nl::HostIpv6::Off));
  Rollback undo([&] { (void)nl::deleteLinkByIndex(host, veth.host.index); });
  // In the bridge's interface group: the bridge family's icc=false rules match the group, not each port.
  TRY_VOID(nl::setLinkMasterAndGroup(host, veth.host.index, bridge.index, gwnames::bridgeGroup(conf.bridge)));
  TRY_VOID(nl::setBridgePortOptions(host, veth.host.index, conf.hairpin, /*learning=*/true));
  undo.dismiss();
  return veth;
}

}  // namespace ovl::gwbridge
