#include <algorithm>

#include "cni/delegate.hpp"
#include "model/cluster.hpp"
#include "model/memory.hpp"
#include "nl/link.hpp"
#include "overlay/plugin.hpp"
#include "overlay/teardown.hpp"
#include "util/log.hpp"
#include "vxlan/names.hpp"

namespace ovl::overlay {

// GC: this host's attachments recorded in the store but absent from the valid list lose their veth and
// record; the IPAM plugin gets the same GC for the leases; unused devices go.
Result<void> cmdGc(const cni::CmdArgs& args, const cni::NetConf& conf) {
  const auto& valid = *TRY(cni::requireValidAttachments(conf));
  auto c = TRY(parseOverlayConf(conf, std::nullopt));
  auto cluster = TRY(model::Cluster::connect(c.store.consul));
  auto host = TRY(nl::Socket::open());
  auto records = TRY(cluster.listAttachments(c.network, c.hostName));
  int removed = 0;
  for (const auto& a : records) {
    bool keep = std::any_of(valid.begin(), valid.end(), [&](const cni::Attachment& v) {
      return v.containerId == a.containerId && v.ifName == a.ifName;
    });
    if (keep) continue;
    TRY_VOID(nl::deleteLink(host, vxlan::hostVethName(a.containerId, a.ifName)));
    TRY_VOID(cluster.deleteAttachment(c.network, c.hostName, a.containerId, a.ifName));
    if (auto mem = model::HostMemory::open(c.stateDir)) mem->forgetAttachment(c.network, a.containerId, a.ifName);
    ++removed;
  }
  if (removed) log::info("GC removed " + std::to_string(removed) + " stale attachments");
  TRY_VOID(cni::delegateGc(c.ipamType, args, args.stdinData));
  if (auto vni = TRY(knownVni(c, &cluster))) TRY_VOID(teardownIfUnused(host, c, *vni, &cluster));
  return {};
}

}  // namespace ovl::overlay
