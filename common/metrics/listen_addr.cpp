#include "metrics/listen_addr.hpp"

#include <charconv>

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

}  // namespace ovl::metrics
