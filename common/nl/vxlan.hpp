// VXLAN devices.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "nl/host_ipv6.hpp"
#include "nl/link.hpp"

namespace ovl::nl {

struct VxlanSpec {
  std::string name;
  uint32_t vni = 0;        // 1..16777215
  IpAddr local;            // source address; unset: none
  int underlayIndex = 0;   // IFLA_VXLAN_LINK, 0: none
  uint16_t port = 4789;    // UDP destination port (host order)
  bool learning = true;
  uint32_t ageing = 300;   // FDB ageing, seconds
  uint8_t ttl = 0;         // 0: inherit
  bool udpCsum = true;     // UDP checksums over IPv4
  unsigned mtu = 0;        // 0: kernel default
  std::optional<MacAddr> mac;
  std::optional<HostIpv6> ipv6;  // applied before the device is brought up, and to an existing one
};

struct VxlanInfo {
  LinkInfo link;
  uint32_t vni = 0;
  IpAddr local;  // unset when the device has none
  int underlayIndex = 0;
  uint16_t port = 0;  // host order
  bool learning = false;
  uint32_t ageing = 0;
  uint8_t ttl = 0;
};

// The vxlan device with that name, nullopt when no link has the name; a link of another kind with that
// name is a Code::InvalidConfig error.
Result<std::optional<VxlanInfo>> findVxlan(Socket& s, std::string_view name);

// Creates the device if missing. If it exists with the same vni, local, port, learning (and underlay when
// spec.underlayIndex is set) it is kept; otherwise it is deleted and recreated (which also detaches it from
// any bridge). Then applies mtu and brings it up.
Result<VxlanInfo> ensureVxlan(Socket& s, const VxlanSpec& spec);

}  // namespace ovl::nl
