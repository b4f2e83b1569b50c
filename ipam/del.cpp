#include "ipam/context.hpp"
#include "ipam/plugin.hpp"

namespace ovl::ipam {

Result<void> cmdDel(const cni::CmdArgs& args, const cni::NetConf& net) {
  auto c = TRY(openContext(net, Need::Store));
  auto replayed = replayJournal(c);
  TRY_VOID(releaseOrJournal(c, args, replayed ? c.store->releaseByOwner(args.containerId, args.ifName) : replayed));
  forgetLeases(c, args.containerId, args.ifName);
  return {};
}

}  // namespace ovl::ipam
