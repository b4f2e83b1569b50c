#include "ipam/context.hpp"
#include "ipam/lease_ops.hpp"
#include "ipam/plugin.hpp"
#include "util/log.hpp"

namespace ovl::ipam {

Result<void> cmdStatus(const cni::CmdArgs&, const cni::NetConf& net) {
  auto opened = openContext(net, Need::Ranges);
  if (!opened) {
    // A configuration that cannot work stays an error of its own; a store that cannot be used is "not ready".
    Error e = std::move(opened.error());
    if (e.code != Code::InvalidConfig && e.code != Code::Decode) e.code = Code::NotReady;
    return fail(std::move(e));
  }
  Context& c = *opened;
  if (auto ok = replayJournal(c); !ok) log::debug("journal replay: " + ok.error().msg);
  return checkReady(c.conf.rangeSets, *c.store);
}

}  // namespace ovl::ipam
