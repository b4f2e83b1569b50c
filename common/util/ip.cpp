#include "util/ip.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cctype>
#include <charconv>
#include <cstring>

namespace ovl {

std::optional<IpAddr> IpAddr::parse(std::string_view s) {
  if (s.empty() || s.size() > INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN + 1];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  IpAddr a;
  if (inet_pton(AF_INET, buf, a.bytes_.data()) == 1) {
    a.family_ = AF_INET;
    return a;
  }
  if (s.find(':') != std::string_view::npos && inet_pton(AF_INET6, buf, a.bytes_.data()) == 1) {
    a.family_ = AF_INET6;
    // IPv4-mapped IPv6 is treated as IPv4, as Go's net.ParseIP does for host-local.
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a.bytes_.data(), mapped, 12) == 0) {
      std::array<uint8_t, 16> b{};
      std::memcpy(b.data(), a.bytes_.data() + 12, 4);
      a.bytes_ = b;
      a.family_ = AF_INET;
    }
    return a;
  }
  return std::nullopt;
}

IpAddr IpAddr::v4(uint32_t hostOrder) {
  IpAddr a;
  a.family_ = AF_INET;
  a.bytes_[0] = uint8_t(hostOrder >> 24);
  a.bytes_[1] = uint8_t(hostOrder >> 16);
  a.bytes_[2] = uint8_t(hostOrder >> 8);
  a.bytes_[3] = uint8_t(hostOrder);
  return a;
}

IpAddr IpAddr::fromBytes(int family, const void* bytes) {
  IpAddr a;
  a.family_ = family;
  std::memcpy(a.bytes_.data(), bytes, family == AF_INET ? 4 : 16);
  return a;
}

bool IpAddr::isV4() const { return family_ == AF_INET; }
bool IpAddr::isV6() const { return family_ == AF_INET6; }

std::string IpAddr::str() const {
  if (!valid()) return "<none>";
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(family_, bytes_.data(), buf, sizeof buf);
  return buf;
}

IpAddr IpAddr::next() const {
  IpAddr r = *this;
  for (int i = byteLen() - 1; i >= 0; --i)
    if (++r.bytes_[i] != 0) break;
  return r;
}

IpAddr IpAddr::prev() const {
  IpAddr r = *this;
  for (int i = byteLen() - 1; i >= 0; --i)
    if (r.bytes_[i]-- != 0) break;
  return r;
}

std::strong_ordering IpAddr::operator<=>(const IpAddr& o) const {
  if (family_ != o.family_) return family_ <=> o.family_;
  int c = std::memcmp(bytes_.data(), o.bytes_.data(), 16);
  return c < 0 ? std::strong_ordering::less : c > 0 ? std::strong_ordering::greater : std::strong_ordering::equal;
}

std::optional<IpNet> IpNet::parse(std::string_view s, bool requirePrefix) {
  auto slash = s.find('/');
  if (slash == std::string_view::npos) {
    if (requirePrefix) return std::nullopt;
    auto a = IpAddr::parse(s);
    if (!a) return std::nullopt;
    return IpNet(*a, a->bits());
  }
  auto a = IpAddr::parse(s.substr(0, slash));
  if (!a) return std::nullopt;
  auto p = s.substr(slash + 1);
  if (p.empty() || p.size() > 3) return std::nullopt;
  int prefix = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
  if (ec != std::errc() || ptr != p.data() + p.size() || prefix < 0 || prefix > a->bits()) return std::nullopt;
  return IpNet(*a, prefix);
}

static IpAddr applyMask(const IpAddr& a, int prefix, bool setHost) {
  uint8_t b[16];
  std::memcpy(b, a.bytes(), 16);
  for (int i = 0; i < a.byteLen(); ++i) {
    int bitsHere = prefix - i * 8;
    uint8_t mask = bitsHere >= 8 ? 0xff : bitsHere <= 0 ? 0 : uint8_t(0xff << (8 - bitsHere));
    b[i] = setHost ? uint8_t(b[i] | ~mask) : uint8_t(b[i] & mask);
  }
  return IpAddr::fromBytes(a.family(), b);
}

IpAddr IpNet::network() const { return applyMask(addr_, prefix_, false); }
IpAddr IpNet::broadcast() const { return applyMask(addr_, prefix_, true); }

bool IpNet::contains(const IpAddr& a) const {
  return a.family() == family() && applyMask(a, prefix_, false) == network();
}

bool IpNet::overlaps(const IpNet& o) const {
  if (o.family() != family()) return false;
  return contains(o.network()) || o.contains(network());
}

std::string IpNet::str() const { return addr_.str() + "/" + std::to_string(prefix_); }

std::string IpNet::maskStr() const {
  if (!addr_.isV4()) return std::to_string(prefix_);
  uint32_t m = prefix_ == 0 ? 0 : ~uint32_t(0) << (32 - prefix_);
  return IpAddr::v4(m).str();
}

std::optional<MacAddr> MacAddr::parse(std::string_view s) {
  if (s.size() != 17) return std::nullopt;
  std::array<uint8_t, 6> b{};
  for (int i = 0; i < 6; ++i) {
    auto part = s.substr(size_t(i) * 3, 2);
    if (i < 5 && s[size_t(i) * 3 + 2] != ':' && s[size_t(i) * 3 + 2] != '-') return std::nullopt;
    unsigned v = 0;
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + 2, v, 16);
    if (ec != std::errc() || ptr != part.data() + 2) return std::nullopt;
    b[size_t(i)] = uint8_t(v);
  }
  return MacAddr(b);
}

MacAddr MacAddr::fromSeed(std::string_view seed) {
  uint64_t h = fnv1a(seed);
  std::array<uint8_t, 6> b{};
  for (int i = 0; i < 6; ++i) b[size_t(i)] = uint8_t(h >> (8 * i));
  b[0] = uint8_t((b[0] & 0xfe) | 0x02);  // unicast, locally administered
  return MacAddr(b);
}

bool MacAddr::isZero() const {
  for (auto x : bytes_)
    if (x) return false;
  return true;
}

std::string MacAddr::str() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes_[0], bytes_[1], bytes_[2], bytes_[3],
                bytes_[4], bytes_[5]);
  return buf;
}

Result<void> validateIfName(std::string_view name, std::string_view field) {
  auto bad = [&](std::string why) {
    return fail(Code::InvalidEnv, std::string(field) + " '" + std::string(name) + "' " + why);
  };
  if (name.empty()) return bad("is empty");
  if (name.size() > 15) return bad("is longer than 15 characters");
  if (name == "." || name == "..") return bad("is not a valid interface name");
  for (char c : name)
    if (c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) || c == '\0')
      return bad("contains an invalid character");
  return {};
}

bool isValidIdentifier(std::string_view s) {
  if (s.empty() || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace ovl
