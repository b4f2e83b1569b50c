#include "metrics/listen_addr.hpp"

#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace ovl::metrics {

std::optional<ListenAddr> ListenAddr::parse(std::string_view s) {
  const auto colon = s.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = s.substr(0, colon), port = s.substr(colon + 1);
  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  auto addr = IpAddr::parse(host);
  if (!addr || addr->isV6() != bracketed) return std::nullopt;
  unsigned v = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
  if (ec != std::errc() || end != port.data() + port.size() || v == 0 || v > 65535) return std::nullopt;
  return ListenAddr{*addr, uint16_t(v)};
}

std::string ListenAddr::str() const {
  return (addr.isV6() ? "[" + addr.str() + "]" : addr.str()) + ":" + std::to_string(port);
}

socklen_t ListenAddr::sockaddr(sockaddr_storage& ss) const {
  ss = {};
  if (addr.isV6()) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    std::memcpy(&a->sin6_addr, addr.bytes(), 16);
    return sizeof *a;
  }
  auto* a = reinterpret_cast<sockaddr_in*>(&ss);
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  std::memcpy(&a->sin_addr, addr.bytes(), 4);
  return sizeof *a;
}

}  // namespace ovl::metrics
