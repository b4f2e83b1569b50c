#include "ipam/context.hpp"
#include <algorithm>

#include "ipam/lease_ops.hpp"
#include "ipam/plugin.hpp"
#include "model/memory.hpp"
#include "util/log.hpp"

namespace ovl::ipam {

Result<void> cmdGc(const cni::CmdArgs&, const cni::NetConf& net) {
  const auto* valid = TRY(cni::requireValidAttachments(net));
  auto c = TRY(openContext(net, Need::Store));
  TRY_VOID(replayJournal(c));
  auto n = TRY(collectGarbage(*c.store, c.conf.host, net.name, c.conf.pool, *valid));
  if (n) log::info("GC released " + std::to_string(n) + " leases of host " + c.conf.host);
  if (auto mem = model::HostMemory::open(c.conf.hostStateDir); mem && c.consul)
    for (const auto& r : mem->leases()) {
      bool live = std::any_of(valid->begin(), valid->end(), [&](const cni::Attachment& a) {
        return a.containerId == r.lease.containerId && a.ifName == r.lease.ifName;
      });
      if (r.pool == c.conf.pool && r.lease.network == net.name && !live)
        mem->forgetLeases(r.pool, r.lease.containerId, r.lease.ifName);
    }
  return {};
}

}  // namespace ovl::ipam
