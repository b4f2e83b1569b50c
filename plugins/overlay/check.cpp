#include <algorithm>

#include "cni/delegate.hpp"
#include "model/cluster.hpp"
#include "nl/addr.hpp"
#include "nl/link.hpp"
#include "nl/route.hpp"
#include "nl/vxlan.hpp"
#include "ns/netns.hpp"
#include "overlay/config.hpp"
#include "overlay/mtu.hpp"
#include "overlay/netdef.hpp"
#include "overlay/plugin.hpp"
#include "vxlan/allow_list.hpp"
#include "vxlan/datapath.hpp"
#include "vxlan/names.hpp"

namespace ovl::overlay {
namespace {

Result<void> bad(const std::string& what) { return fail(Code::Internal, "CHECK: " + what); }

// The interface the container-side IPs point at in prevResult.
Result<const cni::Interface*> containerInterface(const cni::NetResult& prev, const cni::CmdArgs& args) {
  for (const auto& i : prev.interfaces)
    if (i.name == args.ifName && !i.sandbox.empty()) return &i;
  return fail(Code::InvalidConfig, "prevResult has no interface '" + args.ifName + "' with a sandbox");
}

// While a watcher enforces the VXLAN allow-list, a VNI with other members but no allowed VTEP receives
// nothing from other hosts.
Result<void> checkAllowList(uint32_t vni, const IpAddr& self, const std::vector<model::Member>& members) {
  bool others = std::any_of(members.begin(), members.end(), [&](const model::Member& m) { return !(m.vtep == self); });
  if (!others) return {};
  auto listing = TRY(TRY(vxlan::AllowList::open()).read());
  if (!listing.enforced || !listing.vteps(vni).empty()) return {};
  return bad("VXLAN allow-list (nft table " + std::string(vxlan::kAllowFamily) + " " + std::string(vxlan::kAllowTable) +
             ") is enforced but allows no VTEP for vni " + std::to_string(vni) +
             ": VXLAN from the network's other members is dropped (restart 'overlay watch' to refill it)");
}

}  // namespace

Result<void> cmdCheck(const cni::CmdArgs& args, const cni::NetConf& conf) {
  auto c = TRY(parseOverlayConf(conf, args.args.get("MAC")));
  if (!conf.prevResult) return fail(Code::InvalidConfig, "CHECK needs prevResult");
  const auto& prev = *conf.prevResult;
  const cni::Interface* want = TRY(containerInterface(prev, args));
  auto cluster = TRY(model::Cluster::connect(c.store.consul));
  auto state = TRY(cluster.readNetwork(c.network));
  TRY_VOID(model::requireReadable(c.network, state));  // an unreadable record is not an undefined network
  TRY_VOID(cni::delegateCheck(c.ipamType, args, TRY(ipamStdin(args, conf, state.def))));

  auto host = TRY(nl::Socket::open());
  auto underlay = TRY(vxlan::resolveUnderlay(host, c.advertise));
  if (!state.vni) return bad("network '" + c.network + "' is not defined in the store");
  const uint32_t vni = *state.vni;
  // The MTU this host recorded for the network when it joined (older records: what ADD would choose).
  const auto self = std::find_if(state.members.begin(), state.members.end(),
                                 [&](const model::Member& m) { return m.host == c.hostName; });
  const unsigned mtu = self != state.members.end() && self->mtu && !c.mtu
                           ? self->mtu
                           : TRY(containerMtu(c, underlay, state.members));

  auto vx = TRY(nl::findVxlan(host, vxlan::vxlanName(vni)));
  if (!vx) return bad("vxlan device " + vxlan::vxlanName(vni) + " is missing");
  if (vx->vni != vni) return bad(vxlan::vxlanName(vni) + " has vni " + std::to_string(vx->vni));
  if (vx->port != c.port) return bad(vxlan::vxlanName(vni) + " uses port " + std::to_string(vx->port));
  if (!(vx->local == underlay.vtep)) return bad(vxlan::vxlanName(vni) + " has local address " + vx->local.str());
  if (vx->link.mtu != mtu) return bad(vxlan::vxlanName(vni) + " has mtu " + std::to_string(vx->link.mtu));
  auto br = TRY(nl::findLink(host, vxlan::bridgeName(vni)));
  if (!br) return bad("bridge " + vxlan::bridgeName(vni) + " is missing");
  if (vx->link.master != br->index) return bad(vxlan::vxlanName(vni) + " is not a port of " + vxlan::bridgeName(vni));
  auto hv = TRY(nl::findLink(host, vxlan::hostVethName(args.containerId, args.ifName)));
  if (!hv) return bad("host interface " + vxlan::hostVethName(args.containerId, args.ifName) + " is missing");
  if (hv->master != br->index) return bad(hv->name + " is not a port of " + vxlan::bridgeName(vni));

  bool member = std::any_of(state.members.begin(), state.members.end(),
                            [&](const model::Member& m) { return m.host == c.hostName && m.vtep == underlay.vtep; });
  if (!member) return bad("host '" + c.hostName + "' is not recorded as a member of '" + c.network + "'");
  TRY_VOID(checkAllowList(vni, underlay.vtep, state.members));

  auto netns = TRY(ns::Netns::open(args.netns));
  auto in = TRY(nl::Socket::openInNetns(netns.fd()));
  auto link = TRY(nl::findLink(in, args.ifName));
  if (!link) return bad("interface " + args.ifName + " is missing in " + args.netns);
  if (link->mtu != mtu) return bad(args.ifName + " has mtu " + std::to_string(link->mtu) + ", want " + std::to_string(mtu));
  if (!want->mac.empty() && link->mac.str() != want->mac) return bad(args.ifName + " has mac " + link->mac.str());
  auto addrs = TRY(nl::dumpAddresses(in, link->index));
  for (const auto& ip : prev.ips) {
    if (!ip.interface || prev.interfaces[size_t(*ip.interface)].name != args.ifName) continue;
    bool found = std::any_of(addrs.begin(), addrs.end(), [&](const nl::AddrInfo& a) { return a.net == ip.address; });
    if (!found) return bad(args.ifName + " lacks address " + ip.address.str());
  }
  for (int fam : {AF_INET, AF_INET6}) {
    auto routes = TRY(nl::dumpRoutes(in, fam));
    for (const auto& r : prev.routes) {
      if (r.dst.family() != fam) continue;
      bool found = std::any_of(routes.begin(), routes.end(), [&](const nl::RouteSpec& k) { return k.dst == r.dst.masked(); });
      if (!found) return bad("route to " + r.dst.str() + " is missing in " + args.netns);
    }
  }
  return {};
}

}  // namespace ovl::overlay
