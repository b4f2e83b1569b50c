#include "vxlan/names.hpp"

#include <charconv>
#include <cstdio>

#include "util/ip.hpp"

namespace ovl::vxlan {

std::string bridgeName(uint32_t vni) { return "ovbr-" + std::to_string(vni); }
std::string vxlanName(uint32_t vni) { return "ovx-" + std::to_string(vni); }

std::string hostVethName(std::string_view containerId, std::string_view ifName) {
  std::string key(containerId);
  key.push_back('/');
  key.append(ifName);
  char buf[16];
  std::snprintf(buf, sizeof buf, "ovv%010llx", static_cast<unsigned long long>(fnv1a(key) & 0xffffffffffULL));
  return buf;
}

uint32_t vniFromName(std::string_view name) {
  std::string_view digits;
  if (name.rfind("ovbr-", 0) == 0) digits = name.substr(5);
  else if (name.rfind("ovx-", 0) == 0) digits = name.substr(4);
  else return 0;
  uint32_t v = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || p != digits.data() + digits.size()) return 0;
  return v;
}

}  // namespace ovl::vxlan
