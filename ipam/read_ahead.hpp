// What overlay-ipam's ADD reads first from Consul, for a caller that runs it in its process and reads those
// keys ahead in its own transaction (model/read_ahead.hpp).
#pragma once

#include "cni/config.hpp"
#include "model/read_ahead.hpp"

namespace ovl::ipam {

// The cursors of the configuration's range sets and the store-identity marker; no keys when the leases are
// not in Consul or the section does not parse (the IPAM then reports that itself). Reads the node config.
model::ReadAhead readAheadFor(const cni::NetConf& net);

}  // namespace ovl::ipam
