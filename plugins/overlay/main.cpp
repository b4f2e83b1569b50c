// overlay: attaches containers to a multi-host VXLAN overlay whose state lives in Consul.
// `overlay watch` runs the long-lived membership watcher instead of the CNI protocol.
#include <cstring>

#include "metrics/recorder.hpp"
#include "overlay/netdef.hpp"
#include "overlay/plugin.hpp"
#include "overlay/watch.hpp"

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "watch") == 0) return ovl::overlay::watchMain(argc - 1, argv + 1);
  return ovl::cni::pluginMain(ovl::metrics::recorded(ovl::overlay::withStoredDefinitions(ovl::overlay::plugin())),
                              argc, argv);
}
