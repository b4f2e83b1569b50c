#include "overlay/plugin.hpp"

namespace ovl::overlay {

cni::Plugin plugin() {
  return cni::Plugin{.name = "overlay", .extraArgKeys = {}, .add = cmdAdd, .del = cmdDel, .check = cmdCheck, .gc = cmdGc,
                     .status = cmdStatus};
}

}  // namespace ovl::overlay
