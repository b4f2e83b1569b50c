#include "overlay/teardown.hpp"

#include "util/log.hpp"
#include "vxlan/datapath.hpp"

namespace ovl::overlay {

Result<void> teardownIfUnused(nl::Socket& s, const OverlayConf& c, uint32_t vni, model::Cluster* cluster) {
  auto lock = TRY(vxlan::HostLock::acquire(c.stateDir, c.network));
  auto dev = TRY(vxlan::findNetDevices(s, vni));
  if (dev && TRY(vxlan::countContainerPorts(s, *dev)) > 0) return {};
  TRY_VOID(vxlan::deleteNetDevices(s, vni));
  if (cluster) TRY_VOID(cluster->withdrawMember(c.network, c.hostName));
  if (dev) log::info("last container left network '" + c.network + "': devices removed, membership withdrawn");
  return {};
}

Result<std::optional<uint32_t>> knownVni(const OverlayConf& c, model::Cluster* cluster) {
  if (c.vni) return c.vni;
  if (cluster) {
    auto st = cluster->readNetwork(c.network);
    if (st && st->vni) return st->vni;
    if (st) return vxlan::recallVni(c.stateDir, c.network);
    if (auto cached = vxlan::recallVni(c.stateDir, c.network)) return cached;  // store down: our own record
    return fail(std::move(st.error()));
  }
  return vxlan::recallVni(c.stateDir, c.network);
}

}  // namespace ovl::overlay
