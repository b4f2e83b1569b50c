// Conntrack entries through NETLINK_NETFILTER: a dump filtered by the kernel (CTA_FILTER, Linux 5.9+),
// and deleting one entry. Only the entries a query selects reach user space; nothing holds the table.
#pragma once

#include <netlink/netfilter/ct.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "nl/handles.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::gwbridge {

using CtPtr = nl::CPtr<nfnl_ct, nfnl_ct_put>;

struct CtQuery {
  int family = 0;          // AF_INET or AF_INET6
  uint8_t proto = 0;       // IPPROTO_*, 0: any
  uint16_t origDport = 0;  // original destination port, 0: any (needs proto)
  // Address filters are given to the kernel for IPv4 only: some kernels invert the IPv6 comparison.
  std::optional<IpAddr> origSrc;
  std::optional<IpAddr> replySrc;
};

// A NETLINK_NETFILTER socket in the calling thread's namespace.
Result<nl::SockPtr> openCtSocket();

// The entries the kernel selects for q for which keep() is true. keep() always runs: kernels before 5.9
// ignore the filter and send everything of the family.
Result<std::vector<CtPtr>> dumpConntrack(nl_sock* s, const CtQuery& q, const std::function<bool(nfnl_ct&)>& keep);

// Deletes one entry; true when it was deleted, false when it was already gone.
Result<bool> deleteConntrack(nl_sock* s, const nfnl_ct& ct);

}  // namespace ovl::gwbridge
