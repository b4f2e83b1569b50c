// Which conntrack entries a flush selects, and which dumps find them: pure, unit-tested
// (conntrack.hpp runs them against the kernel).
//
// Every dump walks the kernel's whole conntrack hash, shared by all namespaces: nf_conntrack_buckets
// buckets (262,144 here, 3.6 ms a walk even when nothing matches), whatever the filter. The filter
// (CTA_FILTER) only decides which entries of this namespace are sent to user space; it takes one tuple
// and one family, so each (protocol, port) of a mapping costs a walk per family, and an address two.
// When the namespace tracks few entries, one unfiltered dump of both families sends them all and costs
// one walk: planDumps() picks whichever is cheaper.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "gwbridge/ports.hpp"
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

// One dump request. family AF_UNSPEC (both families) only without a filter: the kernel refuses a
// filter without a family (EOPNOTSUPP).
struct CtQuery {
  int family = 0;          // AF_INET, AF_INET6 or AF_UNSPEC
  uint8_t proto = 0;       // IPPROTO_*, 0: any
  uint16_t origDport = 0;  // original destination port, 0: any (needs proto)
  // Address filters are given to the kernel for IPv4 only: some kernels invert the IPv6 comparison.
  std::optional<IpAddr> origSrc;
  std::optional<IpAddr> replySrc;
  bool operator==(const CtQuery&) const = default;
};

// The table as this namespace sees it: its entries (net.netfilter.nf_conntrack_count) and the buckets
// every dump walks (net.netfilter.nf_conntrack_buckets).
struct CtTable {
  uint64_t tracked = 0;
  uint64_t buckets = 0;
};

// Sending one entry to user space and reading it costs about as much as walking this many buckets.
// Measured on Linux 6.18, 2 CPUs: a walk of 262,144 buckets 3.7 ms (14 ns a bucket), an entry 0.9-1 µs
// with libnl's parser (about 70 buckets); rounded up, towards the filtered dumps.
inline constexpr uint64_t kBucketsPerEntry = 100;

// The dumps that find every entry f selects (the caller still tests each entry with selects()): the
// filtered ones, or one unfiltered dump of both families when the namespace's entries cost less to read
// than the walks that saves. Empty when f is.
std::vector<CtQuery> planDumps(const CtFilter& f, const CtTable& t);

// The fields of an entry that selection looks at.
struct CtEntry {
  uint8_t proto = 0;
  std::optional<uint16_t> origDport;  // TCP, UDP and SCTP entries have one
  std::optional<IpAddr> origSrc, origDst, replySrc;
};

// Whether f selects the entry: towards one of its host ports (protocol, port, and the mapping's hostIP or,
// without one, an address for which isLocal is true), or from or DNAT'ed to one of its addresses
// (original or reply source).
bool selects(const CtFilter& f, const CtEntry& e, const std::function<bool(const IpAddr&)>& isLocal);

}  // namespace ovl::gwbridge
