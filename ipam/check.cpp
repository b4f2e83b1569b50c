#include "ipam/context.hpp"
#include "ipam/lease_ops.hpp"
#include "ipam/plugin.hpp"

namespace ovl::ipam {

Result<void> cmdCheck(const cni::CmdArgs& args, const cni::NetConf& net) {
  auto c = TRY(openContext(net, Need::Ranges));
  TRY_VOID(replayJournal(c));
  TRY_VOID(ensureStoreRemembers(c, false));
  return checkLeases(c.conf.rangeSets, *c.store, args.containerId, args.ifName, net.prevResult);
}

}  // namespace ovl::ipam
