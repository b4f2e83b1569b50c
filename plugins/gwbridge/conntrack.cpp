#include "gwbridge/conntrack.hpp"

#include <netlink/netfilter/ct.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "gwbridge/conntrack_dump.hpp"
#include "nl/addr.hpp"
#include "nl/socket.hpp"
#include "ns/sysctl.hpp"

namespace ovl::gwbridge {
namespace {

// The addresses of this namespace, where a mapping without hostIP catches traffic ("fib daddr type local").
struct LocalAddrs {
  std::vector<IpAddr> addrs;
  bool contains(const IpAddr& ip) const {
    if (ip.isV4() && ip.bytes()[0] == 127) return true;  // all of 127/8 is local
    return std::find(addrs.begin(), addrs.end(), ip) != addrs.end();
  }
};

Result<LocalAddrs> localAddrs() {
  auto s = TRY(nl::Socket::open());
  LocalAddrs l;
  for (const auto& a : TRY(nl::dumpAddresses(s))) l.addrs.push_back(a.net.addr());
  return l;
}

CtEntry entryOf(nfnl_ct& ct) {
  CtEntry e{.proto = nfnl_ct_get_proto(&ct)};
  if (nfnl_ct_test_dst_port(&ct, 0)) e.origDport = nfnl_ct_get_dst_port(&ct, 0);
  e.origSrc = nl::fromNlAddr(nfnl_ct_get_src(&ct, 0));
  e.origDst = nl::fromNlAddr(nfnl_ct_get_dst(&ct, 0));
  e.replySrc = nl::fromNlAddr(nfnl_ct_get_src(&ct, 1));
  return e;
}

std::optional<uint64_t> sysctlNumber(std::string_view key) {
  auto v = ns::readSysctl(key);
  uint64_t n = 0;
  if (!v || std::from_chars(v->data(), v->data() + v->size(), n).ec != std::errc{}) return std::nullopt;
  return n;
}

}  // namespace

Result<int> flushConntrack(const CtFilter& f, std::span<const CtQuery> dumps) {
  if (f.empty() || dumps.empty()) return 0;
  auto sock = TRY(openCtSocket());
  const bool needLocal = std::any_of(f.ports.begin(), f.ports.end(), [](const CtPort& p) { return !p.hostIp; });
  const LocalAddrs local = needLocal ? TRY(localAddrs()) : LocalAddrs{};
  auto isLocal = [&](const IpAddr& a) { return local.contains(a); };
  auto keep = [&](nfnl_ct& ct) { return selects(f, entryOf(ct), isLocal); };
  std::vector<CtPtr> hits;
  for (const auto& q : dumps) {
    auto found = TRY(dumpConntrack(sock.get(), q, keep));
    std::move(found.begin(), found.end(), std::back_inserter(hits));
  }
  int deleted = 0;
  for (const auto& ct : hits)  // an entry found twice is gone the second time
    if (TRY(deleteConntrack(sock.get(), *ct))) ++deleted;
  return deleted;
}

Result<int> flushConntrack(const CtFilter& f) {
  if (f.empty()) return 0;
  // Skipped when this namespace tracks nothing, which is also the case whenever no rule here needs
  // conntrack. Counts we cannot read (the sysctls are hidden outside the initial user namespace) plan
  // the filtered dumps.
  const auto tracked = sysctlNumber("net/netfilter/nf_conntrack_count");
  if (tracked == 0) return 0;
  const auto buckets = sysctlNumber("net/netfilter/nf_conntrack_buckets");
  CtTable t{.tracked = tracked.value_or(UINT64_MAX / kBucketsPerEntry), .buckets = buckets.value_or(0)};
  return flushConntrack(f, planDumps(f, t));
}

}  // namespace ovl::gwbridge
