// P/networks/<net>/config: a network's definition. Written by the first ADD (vni only) or by
// `overlayctl network create` (vni, subnets, created); every host reads it, nothing else writes it.
//   {"vni":N,"scope":"global","subnets":[{"subnet":"10.0.0.0/24","gateway":"10.0.0.1","ipRange":"10.0.0.128/25"}],
//    "created":"2024-05-01T12:00:00Z"}
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::model {

struct SubnetDef {
  IpNet subnet;                   // masked
  std::optional<IpAddr> gateway;  // absent: overlay-ipam's default (first address)
  std::optional<IpNet> ipRange;   // absent: the whole subnet
};

struct NetworkDef {
  std::string name;
  uint32_t vni = 0;
  std::string scope = "global";
  std::vector<SubnetDef> subnets;  // empty: defined implicitly by a plugin (VNI only)
  std::string created;             // RFC 3339, "" when unknown
};

// Validates gateway and ipRange against the subnet; errors name the culprit.
Result<SubnetDef> makeSubnetDef(std::string_view subnet, std::optional<std::string_view> gateway,
                                std::optional<std::string_view> ipRange);

std::string definitionJson(const NetworkDef& d);
// Code::Decode when the record is not a definition.
Result<NetworkDef> parseDefinition(std::string_view name, std::string_view json);

// The first and last address overlay-ipam may hand out for a subnet's ipRange (without the subnet's network
// address and, for IPv4, its broadcast address). Requires s.ipRange.
std::pair<IpAddr, IpAddr> rangeBounds(const SubnetDef& s);

}  // namespace ovl::model
