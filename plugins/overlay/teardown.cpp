#include "overlay/teardown.hpp"

#include "model/memory.hpp"
#include "nfnl/batch.hpp"
#include "nl/link.hpp"
#include "util/log.hpp"
#include "vxlan/allow_list.hpp"
#include "vxlan/arp_reports.hpp"
#include "vxlan/datapath.hpp"
#include "vxlan/vni_cache.hpp"
#include "vxlan/names.hpp"

namespace ovl::overlay {

Result<void> teardownIfUnused(nl::Socket& s, const OverlayConf& c, uint32_t vni, model::Cluster* cluster) {
  auto lock = TRY(vxlan::HostLock::acquire(c.stateDir, c.network));
  auto dev = TRY(vxlan::findNetDevices(s, vni));
  if (dev && TRY(vxlan::countContainerPorts(s, *dev)) > 0) return {};
  TRY_VOID(vxlan::deleteNetDevices(s, vni));
  auto allow = TRY(vxlan::AllowList::open());
  TRY_VOID(allow.forget(vni));  // no device receives this VNI any more
  if (dev) {
    // The watcher reports requests on the port it synced; a device made again here is not synced yet.
    nfnl::Batch b;
    vxlan::addArpReportPortRemoved(b, vxlan::vxlanName(vni));
    if (auto r = b.commit("no longer reporting ARP requests on " + vxlan::vxlanName(vni)); !r && r.error().sysErrno != ENOENT)
      return fail(std::move(r.error()));
  }
  if (cluster) TRY_VOID(withdrawOrRemember(*cluster, c, model::PendingWithdrawal{c.network, "", ""}));
  if (dev) log::info("last container left network '" + c.network + "': devices removed, membership withdrawn");
  return {};
}

Result<void> withdrawOrRemember(model::Cluster& cluster, const OverlayConf& c, const model::PendingWithdrawal& w) {
  auto done = w.containerId.empty() ? cluster.withdrawMember(w.network, c.hostName)
                                    : cluster.deleteAttachment(w.network, c.hostName, w.containerId, w.ifName);
  if (done || done.error().code != Code::TryAgainLater) return done;
  auto mem = TRY(model::HostMemory::open(c.stateDir));
  TRY_VOID(mem.remember(w));
  log::warn(done.error().msg + "; the deletion is kept in " + mem.dir() + " and sent when the store answers");
  return {};
}

Result<void> replayWithdrawals(nl::Socket& s, model::Cluster& cluster, const OverlayConf& c) {
  auto mem = TRY(model::HostMemory::open(c.stateDir));
  for (const auto& w : mem.withdrawals()) {
    // Only what is still gone here: a container added again since, or a network rejoined, keeps its record.
    bool back = false;
    if (!w.containerId.empty()) {
      back = TRY(nl::findLink(s, vxlan::hostVethName(w.containerId, w.ifName))).has_value();
    } else if (auto vni = vxlan::recallVni(c.stateDir, w.network)) {
      auto dev = TRY(vxlan::findNetDevices(s, *vni));
      back = dev && TRY(vxlan::countContainerPorts(s, *dev)) > 0;
    }
    if (!back) {
      auto sent = w.containerId.empty() ? cluster.withdrawMember(w.network, c.hostName)
                                        : cluster.deleteAttachment(w.network, c.hostName, w.containerId, w.ifName);
      if (!sent && sent.error().code == Code::TryAgainLater) return {};  // still unreachable: keep them all
      TRY_VOID(std::move(sent));
      log::info("sent a deletion kept while the store was unreachable (network '" + w.network + "')");
    }
    mem.forget(w);
  }
  return {};
}

Result<std::optional<uint32_t>> knownVni(const OverlayConf& c, model::Cluster* cluster) {
  if (c.vni) return c.vni;
  // This host's own record first: it names the VNI its devices were made with, and costs no round trip.
  if (auto local = vxlan::recallVni(c.stateDir, c.network)) return local;
  if (!cluster) return std::optional<uint32_t>{};
  auto st = TRY(cluster->readNetwork(c.network));
  return st.vni;
}

}  // namespace ovl::overlay
