#include "overlay/mtu.hpp"

#include "model/mtu.hpp"

namespace ovl::overlay {

Result<unsigned> containerMtu(const OverlayConf& c, const vxlan::Underlay& u, const std::vector<model::Member>& members) {
  model::MtuInput in;
  in.network = c.network;
  in.self = c.hostName;
  in.underlayName = u.ifName;
  in.underlayMtu = u.mtu;
  in.overhead = u.vtep.isV6() ? 70 : 50;
  in.configured = c.mtu;
  in.members = members;
  return model::networkMtu(in);
}

}  // namespace ovl::overlay
