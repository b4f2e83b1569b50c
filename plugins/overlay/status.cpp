#include "cni/delegate.hpp"
#include "model/cluster.hpp"
#include "overlay/config.hpp"
#include "overlay/plugin.hpp"

namespace ovl::overlay {

// STATUS: ready when the store answers with a leader and the IPAM is ready.
Result<void> cmdStatus(const cni::CmdArgs& args, const cni::NetConf& conf) {
  auto c = TRY(parseOverlayConf(conf, std::nullopt));
  auto notReady = [](Error e) {
    e.code = Code::NotReady;
    return e;
  };
  auto cluster = TRY(mapError(model::Cluster::connect(c.store.consul), notReady));
  TRY_VOID(mapError(cluster.ping(), notReady));
  TRY_VOID(cni::delegateStatus(c.ipamType, args, args.stdinData));
  return {};
}

}  // namespace ovl::overlay
