#include "vxlan/datapath.hpp"

#include <fcntl.h>
#include <linux/neighbour.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <set>

#include "model/memory.hpp"
#include "nl/addr.hpp"
#include "nl/bridge.hpp"
#include "nl/fdb.hpp"
#include "nl/host_ipv6.hpp"
#include "nl/route.hpp"
#include "nl/vxlan.hpp"
#include "util/log.hpp"
#include "vxlan/names.hpp"

namespace ovl::vxlan {
namespace {

Result<std::optional<IpAddr>> firstAddress(nl::Socket& s, int ifindex) {
  auto addrs = TRY(nl::dumpAddresses(s, ifindex, AF_INET));
  for (const auto& a : addrs)
    if (a.scope == 0) return a.net.addr();
  addrs = TRY(nl::dumpAddresses(s, ifindex, AF_INET6));
  for (const auto& a : addrs)
    if (a.scope == 0) return a.net.addr();
  return std::nullopt;
}

// Directory for this host's state, keyed by the network namespace we run in.
using model::hostStateDir;

// The isolation rests on the host having no address, hence no route, into any overlay.
Result<void> removeAddresses(nl::Socket& s, const nl::LinkInfo& link) {
  auto addrs = TRY(nl::dumpAddresses(s, link.index));
  for (const auto& a : addrs) {
    log::warn("removing address " + a.net.str() + " from " + link.name + ": overlay devices carry no address");
    TRY_VOID(nl::deleteAddress(s, link.index, a.net));
  }
  return {};
}

}  // namespace

Result<Underlay> resolveUnderlay(nl::Socket& s, const std::optional<std::string>& advertise) {
  Underlay u;
  if (advertise) {
    if (auto ip = IpAddr::parse(*advertise)) {
      auto addrs = TRY(nl::dumpAddresses(s, 0, ip->family()));
      for (const auto& a : addrs)
        if (a.net.addr() == *ip) u.ifindex = a.ifindex;
      if (!u.ifindex)
        return fail(Code::InvalidConfig, "field 'advertise' " + *advertise + " is not an address of this host");
      u.vtep = *ip;
    } else {
      auto link = TRY(nl::findLink(s, *advertise));
      if (!link) return fail(Code::InvalidConfig, "field 'advertise' names interface '" + *advertise + "', which does not exist");
      u.ifindex = link->index;
      auto addr = TRY(firstAddress(s, u.ifindex));
      if (!addr) return fail(Code::InvalidConfig, "field 'advertise' interface '" + *advertise + "' has no address");
      u.vtep = *addr;
    }
  } else {
    auto def = TRY(nl::findDefaultRoute(s, AF_INET));
    if (!def) def = TRY(nl::findDefaultRoute(s, AF_INET6));
    if (!def || !def->ifindex)
      return fail(Code::InvalidConfig, "field 'advertise' is not set and this host has no default route to take the "
                                       "underlay interface from");
    u.ifindex = def->ifindex;
    auto ip = TRY(firstAddress(s, u.ifindex));
    if (!ip) return fail(Code::InvalidConfig, "the default-route interface has no address to advertise");
    u.vtep = *ip;
  }
  auto link = TRY(nl::findLinkByIndex(s, u.ifindex));
  if (!link) return fail(Code::Internal, "underlay interface " + std::to_string(u.ifindex) + " vanished");
  u.ifName = link->name;
  u.mtu = link->mtu;
  return u;
}


Result<NetDevices> ensureNetDevices(nl::Socket& s, uint32_t vni, const Underlay& u, uint16_t port, unsigned mtu) {
  NetDevices d;
  // Host ends of veths made by an older version (before IPv6 was turned off on what we create) still have
  // IPv6 on. That version left the bridge with IPv6 on too, so the ports are swept only while the bridge is
  // not settled, and before it is: a sweep that fails leaves it unsettled, and the next ADD sweeps again.
  // (A settled bridge's ports were all made with IPv6 off: no dump of every link on every ADD.)
  if (auto existing = TRY(nl::findLink(s, bridgeName(vni)));
      existing && !TRY(nl::hostIpv6Settled(s, existing->index, nl::HostIpv6::Off)))
    TRY_VOID(nl::ensurePortsHostIpv6(s, existing->index, nl::HostIpv6::Off));
  nl::BridgeSpec bs;
  bs.name = bridgeName(vni);
  bs.mtu = mtu;
  bs.mac = MacAddr::fromSeed("bridge/" + std::to_string(vni));  // stable across recreation
  bs.ipv6 = nl::HostIpv6::Off;  // no link-local address, no router advertisements from containers
  d.bridge = TRY(nl::ensureBridge(s, bs));
  nl::VxlanSpec vs;
  vs.name = vxlanName(vni);
  vs.vni = vni;
  vs.local = u.vtep;
  vs.underlayIndex = u.ifindex;
  vs.port = port;
  vs.learning = true;
  vs.mtu = mtu;
  // A stable VTEP MAC: peers never hold a stale one after we recreate the device (flannel#1036).
  vs.mac = MacAddr::fromSeed("vxlan/" + u.vtep.str() + "/" + std::to_string(vni));
  vs.ipv6 = nl::HostIpv6::Off;
  auto vx = TRY(nl::ensureVxlan(s, vs));
  d.vxlan = vx.link;
  if (d.vxlan.master != d.bridge.index) {
    TRY_VOID(nl::setLinkMaster(s, d.vxlan.index, d.bridge.index));
    d.vxlan.master = d.bridge.index;
  }
  TRY_VOID(removeAddresses(s, d.bridge));
  TRY_VOID(removeAddresses(s, d.vxlan));
  return d;
}

Result<std::optional<NetDevices>> findNetDevices(nl::Socket& s, uint32_t vni) {
  auto br = TRY(nl::findLink(s, bridgeName(vni)));
  auto vx = TRY(nl::findLink(s, vxlanName(vni)));
  if (!br || !vx) return std::nullopt;
  return NetDevices{*br, *vx};
}

Result<void> reconcileFlood(nl::Socket& s, int vxlanIndex, const IpAddr& self, const std::vector<model::Member>& members,
                            FloodSync sync) {
  MacAddr zero(std::array<uint8_t, 6>{});
  std::set<IpAddr> want;
  std::map<IpAddr, std::string> hostOf;
  for (const auto& m : members)
    if (!(m.vtep == self)) want.insert(m.vtep), hostOf.emplace(m.vtep, m.host);
  auto entries = TRY(nl::dumpFdb(s, vxlanIndex));
  std::set<IpAddr> have;
  for (const auto& e : entries) {
    if (!e.dst) continue;
    if (!e.mac.isZero()) {
      // A container MAC learned behind a VTEP that is no longer a member (its host left, or its address
      // changed): frames to it would go nowhere until the entry ages out. Without it they flood, and the
      // kernel learns the container's new location from its next frame.
      if (sync == FloodSync::Exact && !want.count(*e.dst) && !(e.state & NUD_PERMANENT))
        TRY_VOID(nl::deleteFdb(s, vxlanIndex, e.mac, *e.dst));
      continue;
    }
    if (want.count(*e.dst)) {
      have.insert(*e.dst);
    } else if (sync == FloodSync::Exact) {
      TRY_VOID(nl::deleteFdb(s, vxlanIndex, zero, *e.dst));
      log::info("flood entry for " + e.dst->str() + " removed: no longer a member");
    }
  }
  for (const auto& ip : want) {
    if (have.count(ip)) continue;
    TRY_VOID(nl::appendFdb(s, vxlanIndex, zero, ip));
    // The watcher says when a host joins; an ADD adding what it read is routine.
    const std::string line = "flood entry for " + ip.str() + " (" + hostOf[ip] + ") added: a member";
    if (sync == FloodSync::Exact) log::info(line);
    else log::debug(line);
  }
  return {};
}

Result<int> countContainerPorts(nl::Socket& s, const NetDevices& d) {
  int n = 0;
  for (const auto& l : TRY(nl::dumpPorts(s, d.bridge.index)))
    if (l.index != d.vxlan.index) ++n;
  return n;
}

Result<void> deleteNetDevices(nl::Socket& s, uint32_t vni) {
  TRY_VOID(nl::deleteLink(s, vxlanName(vni)));
  TRY_VOID(nl::deleteLink(s, bridgeName(vni)));
  return {};
}

Result<HostLock> HostLock::acquire(const std::string& stateDir, const std::string& network) {
  std::string dir = TRY(hostStateDir(stateDir));
  std::string path = dir + "/" + network + ".lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return fail(sysError(errno, "opening lock " + path));
  while (::flock(fd.get(), LOCK_EX) != 0)
    if (errno != EINTR) return fail(sysError(errno, "locking " + path));
  return HostLock(std::move(fd));
}

}  // namespace ovl::vxlan
