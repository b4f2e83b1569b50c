#include "overlay/plugin.hpp"

namespace ovl::overlay {

cni::Plugin plugin() {
  return cni::Plugin{.name = "overlay", .extraArgKeys = {}, .add = cmdAdd, .del = cmdDel, .check = cmdCheck, .gc = cmdGc,
                     .status = cmdStatus,
                     .summary = "Attaches containers to a multi-host VXLAN overlay network whose state lives in Consul.",
                     .moreUsage = {"overlay watch [--once]   the long-lived membership watcher, one per host (see overlay watch --help)"}};
}

}  // namespace ovl::overlay
