// ADD: an address from IPAM, the bridge's rules (once per bridge: one netlink request finds them), the bridge
// (shared, never rolled back), the veth, the port mappings' elements (none without port mappings), then the
// container side; a failure after the lease undoes the lease, the veth, the elements and the bridge's rules
// when no other port needs them.
#include <sys/socket.h>

#include <algorithm>

#include "cni/delegate.hpp"
#include "gwbridge/bridge.hpp"
#include "gwbridge/config.hpp"
#include "gwbridge/nat.hpp"
#include "gwbridge/plugin.hpp"
#include "gwbridge/state.hpp"
#include "nl/addr.hpp"
#include "nl/link.hpp"
#include "nl/route.hpp"
#include "ns/netns.hpp"
#include "util/log.hpp"
#include "util/rollback.hpp"
#include "util/testhook.hpp"

namespace ovl::gwbridge {
namespace {

// Standalone: CNI_IFNAME. Chained after another plugin: conf.ifName (default "gw-" + CNI_IFNAME), which
// must differ from CNI_IFNAME (the earlier plugin's interface) and from every interface prevResult puts in
// the container.
Result<std::string> containerIfName(const cni::CmdArgs& args, const GwConf& gw, const cni::NetConf& conf) {
  if (!isChained(conf)) return args.ifName;
  const auto& prev = conf.prevResult;
  const std::string name = gw.ifName.empty() ? defaultChainedIfName(args.ifName) : gw.ifName;
  const std::string field = gw.ifName.empty() ? "the default 'ifName' '" + name + "'" : "field 'ifName' '" + name + "'";
  if (name == args.ifName)
    return fail(Code::InvalidConfig, field + " must differ from CNI_IFNAME when gwbridge is chained after another plugin");
  for (const auto& i : prev->interfaces)
    if (!i.sandbox.empty() && i.name == name)
      return fail(Code::InvalidConfig, "prevResult already has interface '" + name + "' in the container (" + field +
                                           "): set another 'ifName' in the gwbridge section of the network config");
  return name;
}

struct Plan {
  std::vector<cni::IpConfig> ips;     // the lease's addresses, each with its gateway
  std::vector<nl::RouteSpec> routes;  // to add inside the container (ifindex set later)
  std::vector<int> defaultFamilies;   // families whose default route goes through the bridge
};

std::optional<IpAddr> gatewayFor(const Plan& p, int family) {
  for (const auto& ip : p.ips)
    if (ip.address.family() == family) return ip.gateway;
  return std::nullopt;
}

Result<Plan> plan(const cni::NetResult& lease, const GwConf& gw) {
  if (lease.ips.empty()) return fail(Code::Internal, gw.ipamType + " returned no address");
  Plan p;
  for (const auto& ip : lease.ips) {
    cni::IpConfig c{ip.address, ip.gateway, std::nullopt};
    if (!c.gateway) c.gateway = ip.address.network().next();
    if (*c.gateway == ip.address.addr() || !ip.address.contains(*c.gateway))
      return fail(Code::InvalidConfig, "IPAM address " + ip.address.str() + " and gateway " + c.gateway->str() +
                                           " do not fit a gateway bridge");
    p.ips.push_back(c);
  }
  for (const auto& r : lease.routes) {
    auto via = r.gw ? r.gw : gatewayFor(p, r.dst.family());
    p.routes.push_back(nl::RouteSpec{.dst = r.dst.masked(), .gw = via});
  }
  for (int family : {AF_INET, AF_INET6}) {
    auto via = gatewayFor(p, family);
    if (!via) continue;
    bool has = std::any_of(p.routes.begin(), p.routes.end(),
                           [&](const auto& r) { return r.dst.family() == family && r.dst.prefix() == 0; });
    if (!has && gw.defaultRoute) {
      p.routes.push_back(nl::RouteSpec{
          .dst = IpNet(family == AF_INET ? *IpAddr::parse("0.0.0.0") : *IpAddr::parse("::"), 0), .gw = via});
      has = true;
    }
    if (has) p.defaultFamilies.push_back(family);
  }
  return p;
}

bool hasFamily(const std::vector<int>& fs, int f) { return std::find(fs.begin(), fs.end(), f) != fs.end(); }

// Inside the container: addresses, link up, then routes. When our default route takes over a family,
// the default routes of earlier plugins go (their interfaces keep their subnet routes).
Result<void> configureContainer(nl::Socket& cs, int ifindex, const Plan& p) {
  for (const auto& ip : p.ips) TRY_VOID(nl::addAddress(cs, ifindex, ip.address, /*noDad=*/true));
  TRY_VOID(nl::setLinkUp(cs, ifindex, true));
  for (int family : p.defaultFamilies) {
    auto routes = TRY(nl::dumpRoutes(cs, family));
    for (const auto& r : routes)
      if (r.dst.prefix() == 0 && r.ifindex != ifindex) TRY_VOID(nl::deleteRoute(cs, r));
  }
  for (auto r : p.routes) {
    r.ifindex = ifindex;
    TRY_VOID(nl::addRoute(cs, r));
  }
  return {};
}

cni::NetResult buildResult(const cni::NetConf& conf, const cni::NetResult& lease, const Plan& p, const nl::LinkInfo& br,
                           const nl::VethPair& veth, const std::string& inner, const MacAddr& mac,
                           const cni::CmdArgs& args) {
  cni::NetResult r;
  if (isChained(conf)) {
    r = *conf.prevResult;
    std::erase_if(r.routes, [&](const cni::Route& x) {
      return x.dst.prefix() == 0 && hasFamily(p.defaultFamilies, x.dst.family());
    });
  }
  const int base = int(r.interfaces.size());
  r.interfaces.push_back(cni::Interface{.name = br.name, .mac = br.mac.str()});
  r.interfaces.push_back(cni::Interface{.name = veth.host.name, .mac = veth.host.mac.str()});
  r.interfaces.push_back(
      cni::Interface{.name = inner, .mac = mac.str(), .mtu = int64_t(veth.host.mtu), .sandbox = args.netns});
  for (auto ip : p.ips) {
    ip.interface = base + 2;
    r.ips.push_back(ip);
  }
  for (const auto& rt : p.routes) r.routes.push_back(cni::Route{.dst = rt.dst, .gw = rt.gw});
  if (r.dns.empty()) r.dns = conf.dns.empty() ? lease.dns : conf.dns;
  return r;
}

std::vector<IpNet> addressesOf(const Plan& p) {
  std::vector<IpNet> out;
  for (const auto& ip : p.ips) out.push_back(ip.address);
  return out;
}

}  // namespace

Result<cni::NetResult> cmdAdd(const cni::CmdArgs& args, const cni::NetConf& conf) {
  auto gw = TRY(parseGwConf(conf, args.stdinData));
  auto netns = TRY(ns::Netns::open(args.netns));
  TRY_VOID(ns::refuseCurrent(netns));
  const std::string inner = TRY(containerIfName(args, gw, conf));
  const Attachment at = attachmentOf(args, conf);
  auto host = TRY(nl::Socket::open());

  // The lease first: a request the IPAM refuses must not leave a new bridge behind.
  const cni::CmdArgs ipam = ipamArgs(args, conf);
  auto lease = TRY(cni::delegateAdd(gw.ipamType, ipam, gw.ipamStdin));
  Rollback releaseLease([&] {
    if (auto r = cni::delegateDel(gw.ipamType, ipam, gw.ipamStdin); !r)
      log::warn("rollback: releasing the address: " + r.error().msg + ", ignoring");
  });
  testhook::pausePoint("gwbridge.after-ipam");
  auto p = TRY(plan(lease, gw));
  AttachmentRules rules{.network = at.network,
                        .containerId = at.containerId,
                        .ifName = at.ifName,
                        .bridge = gw.bridge,
                        .hostVeth = at.hostVeth,
                        .addrs = addressesOf(p),
                        .ipMasq = gw.ipMasq,
                        .icc = gw.icc,
                        .ports = gw.portMappings};
  const auto elems = TRY(attachmentElements(rules));

  // Held shared until the port is on the bridge, so that a DEL of the bridge's last other port does not
  // remove the rules under us.
  auto lock = TRY(BridgeLock::shared());
  (void)TRY(ensureBridgeRules(settingsOf(rules), lock));
  Rollback releaseBridge([&] {  // runs after deleteVeth: only when no other port is left
    lock.unlock();
    if (auto r = releaseBridgeIfUnused(gw.bridge); !r) log::warn("rollback: " + r.error().msg + ", ignoring");
  });
  auto br = TRY(ensureGatewayBridge(host, gw));

  const MacAddr mac = containerMac(args.containerId, args.ifName);
  auto veth = TRY(createPort(host, br, gw, at.hostVeth, inner, netns.fd(), mac));
  Rollback deleteVeth([&] { (void)nl::deleteLinkByIndex(host, veth.host.index); });
  lock.unlock();
  for (const auto& ip : p.ips) {
    TRY_VOID(ensureGatewayAddress(host, br.index, IpNet(*ip.gateway, ip.address.prefix())));
    TRY_VOID(ensureForwarding(ip.address.family()));
  }

  // The record first: whatever happens after it, DEL and GC know what to remove.
  const auto earlier = readRecord(at.network, at.containerId, at.ifName);
  TRY_VOID(writeRecord(AttachmentRecord{.network = at.network,
                                        .containerId = at.containerId,
                                        .ifName = at.ifName,
                                        .bridge = gw.bridge,
                                        .addrs = rules.addrs,
                                        .ports = gw.portMappings,
                                        .elements = elems}));
  Rollback removeRecordGuard([&] { (void)removeRecord(at.network, at.containerId, at.ifName); });
  if (earlier && !earlier->elements.empty())  // an ADD again: its earlier mappings go first
    TRY_VOID(removeElements(earlier->elements, at.tag));
  if (!elems.empty()) TRY_VOID(addElements(elems, at.tag));
  Rollback removeElementsGuard([&] {
    if (elems.empty()) return;
    if (auto r = removeElements(elems, at.tag); !r) log::warn("rollback: " + r.error().msg + ", ignoring");
  });
  if (std::any_of(p.ips.begin(), p.ips.end(), [](const auto& ip) { return ip.address.addr().isV4(); }))
    TRY_VOID(ensureLocalnetRouting(gw.bridge));  // after the localnet guard, one of the bridge's rules
  if (!gw.portMappings.empty()) {
    CtFilter f;
    for (const auto& m : gw.portMappings) f.ports.push_back(CtPort{m.proto, m.hostPort, m.hostIp});
    if (auto r = flushConntrack(f); !r)
      log::warn("flushing conntrack entries: " + r.error().msg + ", ignoring");
    else
      log::debug("flushed " + std::to_string(*r) + " conntrack entries");
  }

  testhook::pausePoint("gwbridge.after-rules");
  auto cs = TRY(nl::Socket::openInNetns(netns.fd()));
  TRY_VOID(configureContainer(cs, veth.peerIndex, p));

  removeElementsGuard.dismiss();
  removeRecordGuard.dismiss();
  deleteVeth.dismiss();
  releaseBridge.dismiss();
  releaseLease.dismiss();
  log::info("added " + inner + " " + p.ips.front().address.str() + " on " + gw.bridge + " with " +
            std::to_string(gw.portMappings.size()) + " port mappings");
  return buildResult(conf, lease, p, br, veth, inner, mac, args);
}

}  // namespace ovl::gwbridge
