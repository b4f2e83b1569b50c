// overlay-ipam: a host-local compatible IPAM plugin whose leases can live in Consul.
#include "ipam/plugin.hpp"
#include "metrics/recorder.hpp"

int main(int argc, char** argv) {
  return ovl::cni::pluginMain(ovl::metrics::recorded(ovl::ipam::plugin()), argc, argv);
}
