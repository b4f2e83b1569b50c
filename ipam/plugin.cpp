#include "ipam/plugin.hpp"

namespace ovl::ipam {

cni::Plugin plugin() {
  return cni::Plugin{.name = "overlay-ipam", .extraArgKeys = {}, .add = cmdAdd, .del = cmdDel, .check = cmdCheck, .gc = cmdGc,
                     .status = cmdStatus,
                     .summary = "IPAM compatible with host-local whose leases can live in Consul, shared by every host.",
                     .moreUsage = {}};
}

}  // namespace ovl::ipam
