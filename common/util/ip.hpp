// Value types parsed once at the edge: IP addresses, prefixes (CIDR), MAC addresses.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace ovl {

// An IPv4 or IPv6 address. IPv4 is stored in the first 4 bytes.
class IpAddr {
 public:
  IpAddr() = default;
  static std::optional<IpAddr> parse(std::string_view s);
  static IpAddr v4(uint32_t hostOrder);
  static IpAddr fromBytes(int family, const void* bytes);

  int family() const { return family_; }  // AF_INET or AF_INET6, 0 when unset
  bool isV4() const;
  bool isV6() const;
  bool valid() const { return family_ != 0; }
  int bits() const { return isV4() ? 32 : 128; }
  const uint8_t* bytes() const { return bytes_.data(); }
  int byteLen() const { return isV4() ? 4 : 16; }
  std::string str() const;

  // Arithmetic used by the allocator; wraps within the family's width.
  IpAddr next() const;
  IpAddr prev() const;
  // Big-endian comparison within one family; addresses of different families order by family.
  std::strong_ordering operator<=>(const IpAddr& o) const;
  bool operator==(const IpAddr& o) const = default;

 private:
  int family_ = 0;
  std::array<uint8_t, 16> bytes_{};
};

// An address with a prefix length, e.g. 10.0.0.5/24 (address kept as given).
class IpNet {
 public:
  IpNet() = default;
  IpNet(IpAddr addr, int prefix) : addr_(addr), prefix_(prefix) {}
  // Accepts "a.b.c.d/n" or "x::y/n". When requirePrefix is false a bare address becomes /32 or /128.
  static std::optional<IpNet> parse(std::string_view s, bool requirePrefix = true);

  const IpAddr& addr() const { return addr_; }
  int prefix() const { return prefix_; }
  int family() const { return addr_.family(); }
  IpAddr network() const;    // address with host bits cleared
  IpAddr broadcast() const;  // address with host bits set
  IpNet masked() const { return IpNet(network(), prefix_); }
  bool contains(const IpAddr& a) const;
  bool overlaps(const IpNet& o) const;
  std::string str() const;   // addr/prefix as given
  std::string maskStr() const;  // dotted netmask (IPv4) or prefix length
  bool operator==(const IpNet& o) const = default;

 private:
  IpAddr addr_;
  int prefix_ = 0;
};

class MacAddr {
 public:
  MacAddr() = default;
  explicit MacAddr(const std::array<uint8_t, 6>& b) : bytes_(b), valid_(true) {}
  static std::optional<MacAddr> parse(std::string_view s);
  // Locally administered unicast MAC derived from a seed (stable for the same seed).
  static MacAddr fromSeed(std::string_view seed);
  const std::array<uint8_t, 6>& bytes() const { return bytes_; }
  bool valid() const { return valid_; }
  bool isZero() const;
  bool isMulticast() const { return bytes_[0] & 1; }
  std::string str() const;  // lower-case colon form
  bool operator==(const MacAddr& o) const = default;
  auto operator<=>(const MacAddr& o) const = default;

 private:
  std::array<uint8_t, 6> bytes_{};
  bool valid_ = false;
};

// Validates a kernel interface name: 1..15 chars, not "." or "..", no '/', ':' or whitespace.
Result<void> validateIfName(std::string_view name, std::string_view field);
// Validates a container ID or network name: ^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$
bool isValidIdentifier(std::string_view s);

// 64-bit FNV-1a, used for stable derived names and MACs.
uint64_t fnv1a(std::string_view s);

}  // namespace ovl
