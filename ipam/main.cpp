// overlay-ipam: a host-local compatible IPAM plugin whose leases can live in Consul.
#include "ipam/plugin.hpp"

int main(int argc, char** argv) { return ovl::cni::pluginMain(ovl::ipam::plugin(), argc, argv); }
