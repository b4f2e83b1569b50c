// overlay-ipam: a host-local compatible IPAM plugin whose leases can live in Consul.
#include "ipam/plugin.hpp"

int main() { return ovl::cni::pluginMain(ovl::ipam::plugin()); }
