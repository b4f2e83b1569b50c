#include <sys/socket.h>

#include "cni/delegate.hpp"
#include "ipam/read_ahead.hpp"
#include "ipc/resolver_link.hpp"
#include "model/cluster.hpp"
#include "model/identity.hpp"
#include "model/lease_companion.hpp"
#include "model/memory.hpp"
#include "nl/link.hpp"
#include "overlay/attachment_names.hpp"
#include "overlay/container.hpp"
#include "overlay/mtu.hpp"
#include "overlay/netdef.hpp"
#include "overlay/plugin.hpp"
#include "overlay/teardown.hpp"
#include "util/log.hpp"
#include "util/rollback.hpp"
#include "util/testhook.hpp"
#include "vxlan/allow_list.hpp"
#include "vxlan/datapath.hpp"
#include "vxlan/vni_cache.hpp"
#include "vxlan/names.hpp"
#include "vxlan/watch_lock.hpp"

namespace ovl::overlay {
namespace {

// Hands the container to this host's resolver. Best effort: without a resolver the container simply gets
// no overlay name resolution, and ADD still succeeds.
bool offerToResolver(const OverlayConf& c, const cni::CmdArgs& args, const ns::Netns& netns) {
  ipc::ResolverRequest req{ipc::ResolverRequest::Attach, c.network, args.containerId, args.ifName, args.netns};
  if (auto r = ipc::tellResolver(c.stateDir, req, netns.fd(), 500); !r) {
    log::info("no name resolution for this container: " + r.error().msg);
    return false;
  }
  return true;
}

// What this host will put back if the store forgets it (model/restore.hpp). Best effort: the attachment
// works without it.
void rememberAttachment(model::HostMemory& mem, const model::RememberedAttachment& a) {
  if (auto ok = mem.remember(a); !ok)
    log::warn("this host will not restore the attachment if the store loses it: " + ok.error().msg);
}

}  // namespace

Result<cni::NetResult> cmdAdd(const cni::CmdArgs& args, const cni::NetConf& conf) {
  auto c = TRY(parseOverlayConf(conf, args.args.get("MAC")));
  std::vector<std::string> names;
  if (c.resolver) names = TRY(attachmentNames(args, conf, c.network));
  auto netns = TRY(ns::Netns::open(args.netns));
  TRY_VOID(ns::refuseCurrent(netns));
  auto host = TRY(nl::Socket::open());
  auto underlay = TRY(vxlan::resolveUnderlay(host, c.advertise));
  const std::string hostName = vxlan::hostVethName(args.containerId, args.ifName);
  if (TRY(nl::findLink(host, hostName)))
    return fail(Code::InvalidConfig, "container '" + args.containerId + "' is already attached as '" + args.ifName +
                                         "' on this host (host interface " + hostName + "): run DEL first");

  auto cluster = TRY(model::Cluster::connect(c.store.consul));
  // With the listing, what the IPAM reads first when it runs in this process (model/read_ahead.hpp): one read.
  model::ReadAhead ahead;
  // (Only when the IPAM's section does not wait for the network's definition, which comes with the listing.)
  if (c.ipamType == "overlay-ipam" && !needsDefinition(conf)) ahead = ipam::readAheadFor(conf);
  auto state = TRY(cluster.readNetwork(c.network, &ahead));
  TRY_VOID(model::requireReadable(c.network, state));
  if (auto r = replayWithdrawals(host, cluster, c); !r) log::warn("sending kept deletions: " + r.error().msg);
  const std::string ipamConf = TRY(ipamStdin(args, conf, state.def));
  const unsigned mtu = TRY(containerMtu(c, underlay, state.members));

  auto memory = TRY(model::HostMemory::open(c.stateDir));
  const model::Host self{c.hostName, underlay.vtep, TRY(model::readMachineId()), 0};
  // Stable across repeated ADDs, and distinct across hosts: container IDs repeat between hosts, MACs on one
  // L2 segment must not.
  const MacAddr mac = c.mac.value_or(MacAddr::fromSeed(c.hostName + "/" + args.containerId + "/" + args.ifName));
  model::Attachment rec{c.network, c.hostName, args.containerId, args.ifName, mac.str(), {}, names, 0};

  // The records ride with the lease when the IPAM runs in this process, the network is defined and this
  // host's claim on its name is confirmed (the lease transaction sets the host record without the claim's
  // check): one write (model/lease_companion.hpp). Otherwise, or when the IPAM returns what it held already,
  // they are written once the container is up.
  model::LeaseCompanion companion;
  if (state.vni && (!c.vni || *c.vni == *state.vni) && model::hostClaimConfirmed(memory, self)) {
    const model::Member member{c.hostName, underlay.vtep, c.port, *state.vni, mtu, underlay.mtu};
    companion.store = model::StoreIdentity::of(cluster.kv().config());
    companion.ops = [&, member, vni = *state.vni](const std::vector<IpNet>& ips) {
      model::Attachment r = rec;
      for (const auto& ip : ips) r.ips.push_back(ip.str());
      return cluster.attachmentOps(vni, member, self, r);
    };
  }
  // The address first: a request the IPAM refuses (a static IP outside the subnet, ...) must not
  // define the network in the store as a side effect.
  auto ipam = [&] {
    model::Offer<model::LeaseCompanion> write(companion);
    model::Offer<model::ReadAhead> read(ahead);
    return cni::delegateAdd(c.ipamType, args, ipamConf);
  }();
  if (!ipam) {
    // The lease transaction may have carried our records and been applied although the IPAM saw it fail (an
    // answer lost in an election): remove them, and the membership if this host has no devices for the network.
    if (companion.sent) {
      if (auto r = cluster.deleteAttachment(c.network, c.hostName, args.containerId, args.ifName); !r)
        log::error("rollback: deleting the attachment record: " + r.error().msg);
      if (auto r = teardownIfUnused(host, c, *state.vni, &cluster); !r) log::error("rollback: " + r.error().msg);
    }
    return fail(std::move(ipam.error()));
  }
  Rollback releaseIp([&] {
    if (auto r = cni::delegateDel(c.ipamType, args, ipamConf); !r)
      log::error("rollback: releasing the address failed: " + r.error().msg);
  });
  if (ipam->ips.empty()) return fail(Code::Internal, "IPAM plugin '" + c.ipamType + "' returned no address");
  for (const auto& ip : ipam->ips) rec.ips.push_back(ip.address.str());
  // Our records are in the store once the lease transaction carried them: the rollback deletes them. They are
  // rewritten below unless they name exactly the addresses the IPAM returned.
  bool recorded = companion.committed;
  const bool current = recorded && std::equal(rec.ips.begin(), rec.ips.end(), companion.ips.begin(),
                                              companion.ips.end(),
                                              [](const std::string& a, const IpNet& b) { return a == b.str(); });
  Rollback forgetRecord([&] {
    if (!recorded) return;
    if (auto r = cluster.deleteAttachment(c.network, c.hostName, args.containerId, args.ifName); !r)
      log::error("rollback: deleting the attachment record: " + r.error().msg);
  });
  testhook::pausePoint("overlay.after-ipam");
  // This host's claim on its name, before anything of the network is written (the IPAM's lease is rolled back;
  // after the IPAM, so that a request it refuses leaves nothing). No request once confirmed.
  TRY_VOID(model::ensureHostClaim(cluster.kv(), memory, self));
  const uint32_t vni = TRY(cluster.ensureVni(c.network, c.vni, state));
  vxlan::rememberVni(c.stateDir, c.network, vni);

  // A watcher that died left its ARP reports: without it, requests no entry answers must flood again.
  if (auto r = vxlan::dropOrphanedArpReports(c.stateDir); !r) log::warn(r.error().msg);
  // The pair first, outside the network's lock: making it is most of an ADD's kernel work, and the lock
  // holds back this host's other ADDs and DELs on the network and its watcher's answers to ARP reports.
  const ContainerLink link = TRY(createContainerLink(host, netns, hostName, args.ifName, mtu, mac));
  auto made = [&]() -> Result<void> {
    auto lock = TRY(vxlan::HostLock::acquire(c.stateDir, c.network));
    auto dev = TRY(vxlan::ensureNetDevices(host, vni, underlay, c.port, mtu));
    TRY_VOID(vxlan::reconcileFlood(host, dev.vxlan.index, underlay.vtep, state.members, vxlan::FloodSync::AddOnly));
    // The members this ADD read may deliver VXLAN for the VNI (dropped otherwise while a watcher enforces).
    auto allow = TRY(vxlan::AllowList::open());
    TRY_VOID(allow.sync(vni, underlay.vtep, state.members, vxlan::FloodSync::AddOnly));
    // On the bridge before the lock goes: a DEL's teardown counts the bridge's ports under it.
    return nl::setLinkMaster(host, link.host.index, dev.bridge.index);
  }();
  if (!made) {
    (void)nl::deleteLinkByIndex(host, link.host.index);
    (void)teardownIfUnused(host, c, vni, &cluster);  // devices we may have just created
    return fail(std::move(made.error()));
  }
  Rollback deleteLink([&] {
    if (auto r = nl::deleteLink(host, hostName); !r) log::error("rollback: deleting " + hostName + ": " + r.error().msg);
    if (auto r = teardownIfUnused(host, c, vni, &cluster); !r) log::error("rollback: " + r.error().msg);
  });

  testhook::pausePoint("overlay.after-veth");
  TRY_VOID(configureContainer(netns, link, args.ifName, *ipam));

  const model::Member member{c.hostName, underlay.vtep, c.port, vni, mtu, underlay.mtu};
  if (!current) {
    // A write answered with an error may still have been applied (a leader that replicated it and died before
    // answering): the rollback removes the record it may have left. The membership goes with the devices in
    // deleteLink.
    recorded = true;
    TRY_VOID(cluster.recordAttachment(vni, member, self, rec));
  }

  // Again, now that the records are in place: the rename tells this host's watcher (inotify) to follow the
  // network, whose devices now exist.
  vxlan::rememberVni(c.stateDir, c.network, vni);
  testhook::pausePoint("overlay.after-record");
  deleteLink.dismiss();
  forgetRecord.dismiss();
  releaseIp.dismiss();
  rememberAttachment(memory, model::RememberedAttachment{rec, member, state.def});
  // Announce last: by now the kernel has activated the new link (a packet sent in the instant after
  // "link up" can be dropped before the device's queue is attached).
  announce(netns, link, args.ifName, *ipam);
  log::info("attached " + rec.ips.front() + " on vni " + std::to_string(vni) + " via " + underlay.vtep.str());
  const bool resolving = c.resolver && offerToResolver(c, args, netns);

  cni::NetResult r;
  auto dev = TRY(vxlan::findNetDevices(host, vni));
  r.interfaces.push_back({vxlan::bridgeName(vni), dev ? dev->bridge.mac.str() : "", mtu, "", "", ""});
  r.interfaces.push_back({hostName, link.host.mac.str(), mtu, "", "", ""});
  r.interfaces.push_back({args.ifName, link.mac.str(), mtu, args.netns, "", ""});
  for (auto ip : ipam->ips) {
    ip.interface = 2;
    r.ips.push_back(ip);
  }
  r.routes = ipam->routes;
  r.dns = ipam->dns.empty() ? conf.dns : ipam->dns;
  if (resolving) r.dns.nameservers.insert(r.dns.nameservers.begin(), ipc::kResolverAddress);
  return r;
}

}  // namespace ovl::overlay
