// Port mappings from runtimeConfig.portMappings (the `portMappings` capability).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "cni/json.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::gwbridge {

enum class Proto { Tcp, Udp, Sctp };

std::string_view protoName(Proto p);  // "tcp", "udp", "sctp"
int protoNumber(Proto p);             // IPPROTO_*

struct PortMapping {
  uint16_t hostPort = 0;
  uint16_t containerPort = 0;
  Proto proto = Proto::Tcp;
  std::optional<IpAddr> hostIp;  // nullopt: every local address ("" and 0.0.0.0 / :: mean any)
  bool operator==(const PortMapping&) const = default;
};

// Parses the portMappings array. Keys are matched case-insensitively (podman sends hostPort, containerd's
// CRI HostPort); protocol defaults to tcp and is case-insensitive; hostIP "" / "0.0.0.0" / "::" is unset.
// Exact duplicates are dropped; two mappings of one host port, protocol and host address to different
// container ports are a Code::InvalidConfig error. Null or absent: no mappings.
Result<std::vector<PortMapping>> parsePortMappings(const json::Value* v, std::string_view path);

// The mappings that apply to a container address of that family: those without a host address and those
// whose host address has the family.
std::vector<PortMapping> mappingsForFamily(const std::vector<PortMapping>& all, int family);

}  // namespace ovl::gwbridge
