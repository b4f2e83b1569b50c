#include "gwbridge/conntrack.hpp"

#include <sys/socket.h>

#include <algorithm>

#include "gwbridge/conntrack_dump.hpp"
#include "nl/addr.hpp"
#include "nl/socket.hpp"
#include "ns/sysctl.hpp"

namespace ovl::gwbridge {
namespace {

bool sameAddr(const nl_addr* a, const IpAddr& want) {
  auto ip = nl::fromNlAddr(a);
  return ip && *ip == want;
}

// The addresses of this namespace, where a mapping without hostIP catches traffic ("fib daddr type local").
struct LocalAddrs {
  std::vector<IpAddr> addrs;
  bool contains(const nl_addr* a) const {
    auto ip = nl::fromNlAddr(a);
    if (!ip) return false;
    if (ip->isV4() && ip->bytes()[0] == 127) return true;  // all of 127/8 is local
    return std::find(addrs.begin(), addrs.end(), *ip) != addrs.end();
  }
};

Result<LocalAddrs> localAddrs() {
  auto s = TRY(nl::Socket::open());
  LocalAddrs l;
  for (const auto& a : TRY(nl::dumpAddresses(s))) l.addrs.push_back(a.net.addr());
  return l;
}

// Entries of connections to the host port: protocol, port and original destination (the mapping's
// hostIP, else any address of this host), i.e. the traffic the mapping's DNAT catches.
Result<void> collectPort(nl_sock* s, const CtPort& p, const LocalAddrs& local, std::vector<CtPtr>& out) {
  const uint8_t proto = uint8_t(protoNumber(p.proto));
  auto keep = [&](nfnl_ct& ct) {
    if (nfnl_ct_get_proto(&ct) != proto || !nfnl_ct_test_dst_port(&ct, 0) || nfnl_ct_get_dst_port(&ct, 0) != p.port)
      return false;
    const nl_addr* dst = nfnl_ct_get_dst(&ct, 0);
    return p.hostIp ? sameAddr(dst, *p.hostIp) : local.contains(dst);
  };
  for (int family : {AF_INET, AF_INET6}) {
    if (p.hostIp && p.hostIp->family() != family) continue;
    auto hits = TRY(dumpConntrack(s, CtQuery{.family = family, .proto = proto, .origDport = p.port}, keep));
    std::move(hits.begin(), hits.end(), std::back_inserter(out));
  }
  return {};
}

// Entries from a container address (its outbound flows) or DNAT'ed to it (replies come from it).
Result<void> collectAddr(nl_sock* s, const IpAddr& addr, std::vector<CtPtr>& out) {
  for (int dir : {0, 1}) {
    CtQuery q{.family = addr.family()};
    (dir == 0 ? q.origSrc : q.replySrc) = addr;
    auto hits = TRY(dumpConntrack(s, q, [&](nfnl_ct& ct) { return sameAddr(nfnl_ct_get_src(&ct, dir), addr); }));
    std::move(hits.begin(), hits.end(), std::back_inserter(out));
  }
  return {};
}

}  // namespace

Result<int> flushConntrack(const CtFilter& f) {
  if (f.empty()) return 0;
  // Each dump walks the whole (all-namespace) conntrack hash in the kernel; skip them when this namespace
  // tracks nothing, which is also the case whenever no rule here needs conntrack.
  if (auto n = ns::readSysctl("net/netfilter/nf_conntrack_count"); n && *n == "0") return 0;
  auto sock = TRY(openCtSocket());
  std::vector<CtPtr> hits;
  const bool needLocal = std::any_of(f.ports.begin(), f.ports.end(), [](const CtPort& p) { return !p.hostIp; });
  const LocalAddrs local = needLocal ? TRY(localAddrs()) : LocalAddrs{};
  for (const auto& p : f.ports) TRY_VOID(collectPort(sock.get(), p, local, hits));
  for (const auto& a : f.addrs) TRY_VOID(collectAddr(sock.get(), a, hits));
  int deleted = 0;
  for (const auto& ct : hits)  // an entry found twice is gone the second time
    if (TRY(deleteConntrack(sock.get(), *ct))) ++deleted;
  return deleted;
}

}  // namespace ovl::gwbridge
