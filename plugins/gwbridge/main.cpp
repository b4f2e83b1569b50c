// gwbridge: a second interface on a host-local gateway bridge with NAT and port mappings
// (the role of Docker's docker_gwbridge).
#include "cni/skel.hpp"
#include "gwbridge/plugin.hpp"
#include "metrics/recorder.hpp"

int main(int argc, char** argv) {
  return ovl::cni::pluginMain(ovl::metrics::recorded(ovl::gwbridge::plugin()), argc, argv);
}
