#include "gwbridge/conntrack.hpp"

#include <netlink/errno.h>
#include <netlink/netfilter/ct.h>
#include <netlink/netlink.h>

#include <memory>

#include "nl/error.hpp"
#include "nl/handles.hpp"
#include "ns/sysctl.hpp"

namespace ovl::gwbridge {
namespace {

using CtPtr = nl::CPtr<nfnl_ct, nfnl_ct_put>;

struct Scan {
  const CtFilter* filter;
  std::vector<CtPtr> hits;
};

bool hasAddr(const std::vector<IpAddr>& addrs, const nl_addr* a) {
  auto ip = nl::fromNlAddr(a);
  if (!ip) return false;
  for (const auto& x : addrs)
    if (x == *ip) return true;
  return false;
}

bool matches(const CtFilter& f, nfnl_ct* ct) {
  if (hasAddr(f.addrs, nfnl_ct_get_src(ct, 0)) || hasAddr(f.addrs, nfnl_ct_get_src(ct, 1))) return true;
  if (!nfnl_ct_test_dst_port(ct, 0)) return false;
  uint8_t proto = nfnl_ct_get_proto(ct);
  uint16_t dport = nfnl_ct_get_dst_port(ct, 0);
  for (const auto& p : f.ports) {
    if (protoNumber(p.proto) != proto || p.port != dport) continue;
    if (p.hostIp && !hasAddr({*p.hostIp}, nfnl_ct_get_dst(ct, 0))) continue;
    return true;
  }
  return false;
}

void visit(nl_object* obj, void* arg) {
  auto* scan = static_cast<Scan*>(arg);
  auto* ct = reinterpret_cast<nfnl_ct*>(obj);
  if (!matches(*scan->filter, ct)) return;
  nfnl_ct_get(ct);  // keep it past the cache
  scan->hits.emplace_back(ct);
}

}  // namespace

Result<int> flushConntrack(const CtFilter& f) {
  if (f.empty()) return 0;
  // A dump walks the whole (all-namespace) conntrack hash; skip it when this namespace tracks nothing,
  // which is also the case whenever no rule here needs conntrack.
  if (auto n = ns::readSysctl("net/netfilter/nf_conntrack_count"); n && *n == "0") return 0;
  nl::SockPtr sock(nl_socket_alloc());
  if (!sock) return fail(nl::nlError(-NLE_NOMEM, "allocating a netfilter netlink socket"));
  if (int err = nl_connect(sock.get(), NETLINK_NETFILTER); err < 0)
    return fail(nl::nlError(err, "connecting a netfilter netlink socket"));
  nl_cache* raw = nullptr;
  if (int err = nfnl_ct_alloc_cache(sock.get(), &raw); err < 0)
    return fail(nl::nlError(err, "dumping the conntrack table"));
  nl::CachePtr cache(raw);
  Scan scan{&f, {}};
  nl_cache_foreach(cache.get(), visit, &scan);
  int deleted = 0;
  for (const auto& ct : scan.hits) {
    int err = nfnl_ct_del(sock.get(), ct.get(), 0);
    if (err >= 0)
      ++deleted;
    else if (!nl::nlAbsent(err))
      return fail(nl::nlError(err, "deleting a conntrack entry"));
  }
  return deleted;
}

}  // namespace ovl::gwbridge
