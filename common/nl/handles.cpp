#include "nl/handles.hpp"

#include <netlink/errno.h>
#include <sys/socket.h>

#include <cstring>

#include "nl/error.hpp"

namespace ovl::nl {

Result<NlAddrPtr> toNlAddr(const IpAddr& ip, int prefix) {
  if (!ip.valid()) return fail(Code::Internal, "converting an unset IP address to netlink");
  NlAddrPtr a(nl_addr_build(ip.family(), ip.bytes(), size_t(ip.byteLen())));
  if (!a) return fail(nlError(-NLE_NOMEM, "building address " + ip.str()));
  nl_addr_set_prefixlen(a.get(), prefix < 0 ? ip.bits() : prefix);
  return a;
}

Result<NlAddrPtr> toNlAddr(const IpNet& net) { return toNlAddr(net.addr(), net.prefix()); }

Result<NlAddrPtr> toNlAddr(const MacAddr& mac) {
  NlAddrPtr a(nl_addr_build(AF_LLC, mac.bytes().data(), mac.bytes().size()));
  if (!a) return fail(nlError(-NLE_NOMEM, "building MAC address " + mac.str()));
  return a;
}

std::optional<IpAddr> fromNlAddr(const nl_addr* a) {
  if (!a) return std::nullopt;
  int family = nl_addr_get_family(a);
  unsigned len = nl_addr_get_len(a);
  if (family != AF_INET && family != AF_INET6) return std::nullopt;
  unsigned want = family == AF_INET ? 4 : 16;
  if (len == 0) {
    uint8_t zero[16] = {};
    return IpAddr::fromBytes(family, zero);
  }
  if (len != want) return std::nullopt;
  return IpAddr::fromBytes(family, nl_addr_get_binary_addr(a));
}

std::optional<MacAddr> macFromNlAddr(const nl_addr* a) {
  if (!a || nl_addr_get_len(a) != 6) return std::nullopt;
  std::array<uint8_t, 6> b{};
  std::memcpy(b.data(), nl_addr_get_binary_addr(a), 6);
  return MacAddr(b);
}

}  // namespace ovl::nl
