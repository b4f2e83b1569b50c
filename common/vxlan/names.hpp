// Stable kernel names derived from the VNI and the attachment (at most 15 characters).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ovl::vxlan {

std::string bridgeName(uint32_t vni);  // "ovbr-<vni>"
std::string vxlanName(uint32_t vni);   // "ovx-<vni>"
// The health mesh's VXLAN device (overlay/health_mesh.hpp), which lives in the watcher's health namespace.
inline constexpr const char* kHealthVxlanName = "ovx-hc";
// Host end of a container's veth: "ovv" + 10 hex digits of a hash of (containerID, ifname).
std::string hostVethName(std::string_view containerId, std::string_view ifName);
// Parses a VNI back out of a bridge or vxlan name; 0 when the name is not ours.
uint32_t vniFromName(std::string_view name);

}  // namespace ovl::vxlan
