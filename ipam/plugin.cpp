#include "ipam/plugin.hpp"

namespace ovl::ipam {

cni::Plugin plugin() {
  return cni::Plugin{.name = "overlay-ipam", .extraArgKeys = {}, .add = cmdAdd, .del = cmdDel, .check = cmdCheck, .gc = cmdGc,
                     .status = cmdStatus};
}

}  // namespace ovl::ipam
