#include "teardown.hpp"

#include "datapath.hpp"
#include "util/log.hpp"

namespace ovl::overlay {

Result<void> teardownIfUnused(nl::Socket& s, const OverlayConf& c, uint32_t vni, Cluster* cluster) {
  auto lock = TRY(HostLock::acquire(c.stateDir, c.network));
  auto dev = TRY(findNetDevices(s, vni));
  if (dev && TRY(countContainerPorts(s, *dev)) > 0) return {};
  TRY_VOID(deleteNetDevices(s, vni));
  if (cluster) TRY_VOID(cluster->withdrawMember(c.network, c.hostName));
  if (dev) log::info("last container left network '" + c.network + "': devices removed, membership withdrawn");
  return {};
}

Result<std::optional<uint32_t>> knownVni(const OverlayConf& c, Cluster* cluster) {
  if (c.vni) return c.vni;
  if (cluster) {
    auto st = cluster->readNetwork(c.network);
    if (st && st->vni) return st->vni;
    if (st) return recallVni(c.stateDir, c.network);
    if (auto cached = recallVni(c.stateDir, c.network)) return cached;  // store down: our own record
    return fail(std::move(st.error()));
  }
  return recallVni(c.stateDir, c.network);
}

}  // namespace ovl::overlay
