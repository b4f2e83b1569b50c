// The subnet `overlayctl network create` takes when no --subnet is given: Docker's choice for overlay
// networks, the first /24 of 10.0.0.0/8 in order (10.0.0.0/24, 10.0.1.0/24, ...) that no other network of
// the store overlaps, unless the node config names other pools:
//   "defaultAddressPools": [{"base": "10.10.0.0/16", "size": 24}, ...]
// (the shape of dockerd's "default-address-pools"; pools are tried in the order given).
#pragma once

#include <optional>
#include <vector>

#include "cni/json.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::ctl {

struct AddressPool {
  IpNet base;    // masked
  int size = 0;  // prefix length of the subnets carved from it, >= base's
};

// Docker's default for overlay networks: 10.0.0.0/8 in /24s.
std::vector<AddressPool> dockerDefaultPools();

// The node config's "defaultAddressPools", or Docker's default when absent; `where` names the file in errors.
Result<std::vector<AddressPool>> addressPoolsOf(const json::Value* nodeConfigRoot, std::string_view where);

// The first subnet of the pools, in order, that overlaps none of `used`; nullopt when all are taken.
std::optional<IpNet> chooseDefaultSubnet(const std::vector<AddressPool>& pools, const std::vector<IpNet>& used);

}  // namespace ovl::ctl
