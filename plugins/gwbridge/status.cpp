// STATUS: ADD could succeed now if nf_tables answers here and the IPAM plugin is ready.
#include "cni/delegate.hpp"
#include "gwbridge/config.hpp"
#include "gwbridge/nat.hpp"
#include "gwbridge/plugin.hpp"

namespace ovl::gwbridge {

Result<void> cmdStatus(const cni::CmdArgs& args, const cni::NetConf& conf) {
  auto gw = TRY(parseGwConf(conf, args.stdinData));
  if (auto r = listRules(); !r)
    return fail(Code::NotReady, "nftables is not usable: " + r.error().msg, r.error().details);
  if (auto r = cni::delegateStatus(gw.ipamType, args, gw.ipamStdin); !r) {
    Error e = std::move(r.error());
    if (e.code != Code::NotReady && e.code != Code::LimitedConnectivity) e.code = Code::NotReady;
    return fail(std::move(e));
  }
  return {};
}

}  // namespace ovl::gwbridge
