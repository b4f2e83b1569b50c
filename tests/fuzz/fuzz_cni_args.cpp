// libFuzzer target: CNI_ARGS and the environment values the skeleton validates (CNI_IFNAME,
// CNI_CONTAINERID), plus the value parsers behind them (IP, CIDR, MAC).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cni/args.hpp"
#include "util/ip.hpp"

namespace {
constexpr std::string_view kExtra[] = {"GW_EXTRA"};
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto args = ovl::cni::parseCniArgs(text, kExtra);
  if (args) {
    for (const auto& [k, v] : args->values) {
      if (k.empty() || k.find(';') != std::string::npos || k.find('=') != std::string::npos) __builtin_trap();
      if (v.find(';') != std::string::npos) __builtin_trap();
      if (args->get(k) != v) __builtin_trap();
    }
    if (auto ip = args->get("IP")) (void)ovl::IpNet::parse(*ip, false);
    if (auto mac = args->get("MAC")) (void)ovl::MacAddr::parse(*mac);
  }
  (void)ovl::validateIfName(text, "CNI_IFNAME");
  (void)ovl::isValidIdentifier(text);
  if (auto a = ovl::IpAddr::parse(text)) {
    // An address prints in a form that parses back to itself.
    auto b = ovl::IpAddr::parse(a->str());
    if (!b || !(*b == *a)) __builtin_trap();
  }
  for (bool strict : {true, false})
    if (auto n = ovl::IpNet::parse(text, strict)) {
      auto m = ovl::IpNet::parse(n->str(), strict);
      if (!m || !(*m == *n)) __builtin_trap();
    }
  if (auto m = ovl::MacAddr::parse(text)) {
    auto m2 = ovl::MacAddr::parse(m->str());
    if (!m2 || m2->str() != m->str()) __builtin_trap();
  }
  return 0;
}
