// overlay: attaches containers to a multi-host VXLAN overlay whose state lives in Consul.
// `overlay watch` runs the long-lived membership watcher instead of the CNI protocol.
// overlay-ipam is linked in: an `ipam` section of that type runs in this process (cni/delegate.hpp).
#include <cstring>

#include "cni/delegate.hpp"
#include "ipam/plugin.hpp"
#include "kv/consul_http.hpp"
#include "metrics/recorder.hpp"
#include "overlay/netdef.hpp"
#include "overlay/plugin.hpp"
#include "overlay/watch.hpp"

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "watch") == 0) return ovl::overlay::watchMain(argc - 1, argv + 1);
  ovl::kv::shareConnectionsInProcess();
  ovl::cni::linkInProcess(ovl::metrics::recorded(ovl::ipam::plugin()));
  return ovl::cni::pluginMain(ovl::metrics::recorded(ovl::overlay::withStoredDefinitions(ovl::overlay::plugin())),
                              argc, argv);
}
