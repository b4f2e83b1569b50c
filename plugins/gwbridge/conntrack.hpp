// Removing conntrack entries that would bypass new or removed NAT rules (stale UDP flows in particular).
#pragma once

#include <optional>
#include <vector>

#include "gwbridge/ports.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::gwbridge {

struct CtPort {
  Proto proto = Proto::Tcp;
  uint16_t port = 0;             // original destination port (the host port)
  std::optional<IpAddr> hostIp;  // original destination address, nullopt: any address of this host
};

struct CtFilter {
  std::vector<CtPort> ports;  // entries towards these host ports (the DNAT direction of a mapping)
  std::vector<IpAddr> addrs;  // entries from or DNAT'ed to these container addresses
  bool empty() const { return ports.empty() && addrs.empty(); }
};

// Deletes the matching entries of the calling thread's network namespace, one by one, found with dumps
// the kernel filters by protocol and port (or address); nothing else is touched: a masqueraded outbound
// flow of another container to the same port number stays. Returns how many were deleted; entries that
// vanish meanwhile are not errors.
Result<int> flushConntrack(const CtFilter& f);

}  // namespace ovl::gwbridge
