// A TCP listen address as the node config spells it: "198.51.100.11:9474" or "[fd00::1]:9474".
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/ip.hpp"

namespace ovl::metrics {

struct ListenAddr {
  IpAddr addr;
  uint16_t port = 0;
  static std::optional<ListenAddr> parse(std::string_view s);
  std::string str() const;
  // Fills `ss` for bind/connect; returns its length.
  socklen_t sockaddr(sockaddr_storage& ss) const;
};

}  // namespace ovl::metrics
