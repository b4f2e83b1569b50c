// Linux bridges and bridge port options.
#pragma once

#include <optional>
#include <string>

#include "nl/host_ipv6.hpp"
#include "nl/link.hpp"

namespace ovl::nl {

struct BridgeSpec {
  std::string name;
  unsigned mtu = 0;  // 0: leave as is
  std::optional<MacAddr> mac;
  bool up = true;
  std::optional<HostIpv6> ipv6;  // applied before the bridge is brought up, and to an existing one
};

// Creates the bridge if missing; otherwise verifies it is a bridge (a link of another kind with that name
// is a Code::InvalidConfig error naming it) and applies mtu/mac. Brings it up when spec.up.
Result<LinkInfo> ensureBridge(Socket& s, const BridgeSpec& spec);

// Sets hairpin mode and learning on a bridge port (a link enslaved to a bridge).
Result<void> setBridgePortOptions(Socket& s, int portIndex, bool hairpin, bool learning);
// The port's neigh_suppress flag (`bridge link set dev PORT neigh_suppress on`): the bridge answers ARP and
// neighbour solicitations arriving for addresses it has a neighbour entry for (on the bridge device, with a
// bridge FDB entry on a suppressing port), instead of flooding them to this port; unknown ones still flood.
Result<void> setBridgePortNeighSuppress(Socket& s, int portIndex, bool on);

}  // namespace ovl::nl
