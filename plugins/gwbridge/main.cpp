// gwbridge: a second interface on a host-local gateway bridge with NAT and port mappings
// (the role of Docker's docker_gwbridge). overlay-ipam is linked in: an `ipam` section of that type runs in
// this process (cni/delegate.hpp).
#include "cni/delegate.hpp"
#include "cni/skel.hpp"
#include "gwbridge/plugin.hpp"
#include "ipam/plugin.hpp"
#include "kv/consul_http.hpp"
#include "metrics/recorder.hpp"

int main(int argc, char** argv) {
  ovl::kv::shareConnectionsInProcess();
  ovl::cni::linkInProcess(ovl::metrics::recorded(ovl::ipam::plugin()));
  return ovl::cni::pluginMain(ovl::metrics::recorded(ovl::gwbridge::plugin()), argc, argv);
}
