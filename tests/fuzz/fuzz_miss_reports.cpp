// libFuzzer target: what nfnetlink_log hands `overlay watch` (vxlan/misses.hpp). A local container chooses
// most of each report's bytes (its ARP request); the kernel's framing is trusted no more. Whatever parses is
// an IPv4 address from an ARP request, and every report took a message of its own size at least.
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>

#include "vxlan/misses.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto misses = ovl::vxlan::parseMissReports(data, size);
  // nlmsghdr, nfgenmsg, and an NFULA_PAYLOAD attribute holding a 28-byte ARP packet.
  constexpr size_t kSmallest = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg)) + NLA_HDRLEN + 28;
  if (misses.size() > size / kSmallest) __builtin_trap();
  for (const auto& m : misses)
    if (!m.ip.isV4() || !m.asker.valid()) __builtin_trap();
  return 0;
}
