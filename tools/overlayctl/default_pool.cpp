#include "overlayctl/default_pool.hpp"

#include <algorithm>

namespace ovl::ctl {
namespace {

// A walk over more candidates than this stops: the store never holds that many networks.
constexpr uint64_t kMaxCandidates = uint64_t(1) << 20;

// base + n * 2^(bits - size), carried big-endian over the address bytes.
IpAddr nthSubnet(const AddressPool& p, uint64_t n) {
  std::array<uint8_t, 16> b{};
  const IpAddr& a = p.base.addr();
  std::copy_n(a.bytes(), a.byteLen(), b.begin());
  int shift = a.bits() - p.size;  // bit position of the subnet's lowest network bit
  // Add n << shift: walk bytes from the end, carrying.
  unsigned carry = 0;
  for (int i = a.byteLen() - 1; i >= 0; --i) {
    int bitLo = (a.byteLen() - 1 - i) * 8;  // the value bit of this byte's lowest bit
    uint64_t part = 0;
    if (bitLo + 8 > shift && bitLo - shift < 64) {
      int rel = bitLo - shift;
      part = rel >= 0 ? (n >> rel) & 0xff : (n << -rel) & 0xff;
    }
    unsigned sum = unsigned(b[size_t(i)]) + unsigned(part) + carry;
    b[size_t(i)] = uint8_t(sum & 0xff);
    carry = sum >> 8;
  }
  return IpAddr::fromBytes(a.family(), b.data());
}

}  // namespace

std::vector<AddressPool> dockerDefaultPools() { return {{*IpNet::parse("10.0.0.0/8"), 24}}; }

Result<std::vector<AddressPool>> addressPoolsOf(const json::Value* root, std::string_view where) {
  const json::Value* v = root && root->IsObject() ? json::member(*root, "defaultAddressPools") : nullptr;
  if (!v) return dockerDefaultPools();
  const std::string field = std::string(where) + ": field 'defaultAddressPools'";
  if (!v->IsArray() || v->Empty())
    return fail(Code::InvalidConfig, field + " must be a non-empty array of {\"base\": CIDR, \"size\": N}");
  std::vector<AddressPool> out;
  for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
    const std::string at = field + "[" + std::to_string(i) + "]";
    const json::Value& e = (*v)[i];
    if (!e.IsObject()) return fail(Code::InvalidConfig, at + " must be an object {\"base\": CIDR, \"size\": N}");
    auto base = TRY(json::optString(e, "base", ""));
    auto net = base ? IpNet::parse(*base) : std::nullopt;
    if (!net) return fail(Code::InvalidConfig, at + ".base must be a CIDR such as \"10.0.0.0/8\"");
    auto size = TRY(json::optInt(e, "size", "", 1, 128));
    if (!size) return fail(Code::InvalidConfig, at + ".size is required: the prefix length of each subnet, e.g. 24");
    const int maxSize = net->addr().isV4() ? 30 : 126;  // leave room for a gateway and a container
    if (*size < net->prefix() || *size > maxSize)
      return fail(Code::InvalidConfig, at + ".size " + std::to_string(*size) + " must be between the base's prefix (" +
                                           std::to_string(net->prefix()) + ") and " + std::to_string(maxSize));
    out.push_back({net->masked(), int(*size)});
  }
  return out;
}

std::optional<IpNet> chooseDefaultSubnet(const std::vector<AddressPool>& pools, const std::vector<IpNet>& used) {
  for (const auto& p : pools) {
    const int span = p.size - p.base.prefix();
    const uint64_t count = span >= 20 ? kMaxCandidates : std::min(kMaxCandidates, uint64_t(1) << span);
    for (uint64_t n = 0; n < count; ++n) {
      IpNet candidate(nthSubnet(p, n), p.size);
      if (std::none_of(used.begin(), used.end(), [&](const IpNet& u) { return u.overlaps(candidate); })) return candidate;
    }
  }
  return std::nullopt;
}

}  // namespace ovl::ctl
