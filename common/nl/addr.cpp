#include "nl/addr.hpp"

#include <linux/if_addr.h>
#include <netlink/errno.h>
#include <netlink/object.h>

#include <cstring>

#include "metrics/tally.hpp"
#include "nl/error.hpp"
#include "nl/handles.hpp"
#include "nl/request.hpp"

namespace ovl::nl {
namespace {

std::string describe(int ifindex, const IpNet& net) {
  return "address " + net.str() + " on link index " + std::to_string(ifindex);
}

Result<AddrObjPtr> buildAddr(int ifindex, const IpNet& net, const std::string& what) {
  AddrObjPtr a(rtnl_addr_alloc());
  if (!a) return fail(nlError(-NLE_NOMEM, what));
  rtnl_addr_set_ifindex(a.get(), ifindex);
  auto local = TRY(toNlAddr(net));
  // Sets family and prefix length from the address; takes its own reference.
  if (int err = rtnl_addr_set_local(a.get(), local.get()); err < 0) return fail(nlError(err, what));
  rtnl_addr_set_prefixlen(a.get(), net.prefix());
  return a;
}

}  // namespace

Result<void> addAddress(Socket& s, int ifindex, const IpNet& net, bool noDad) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = "adding " + describe(ifindex, net);
  auto a = TRY(buildAddr(ifindex, net, what));
  if (net.addr().isV4() && net.prefix() < 31) {
    auto brd = TRY(toNlAddr(net.broadcast()));
    if (int err = rtnl_addr_set_broadcast(a.get(), brd.get()); err < 0) return fail(nlError(err, what));
  }
  if (noDad && net.addr().isV6()) rtnl_addr_set_flags(a.get(), IFA_F_NODAD);
  int err = rtnl_addr_add(s.get(), a.get(), NLM_F_EXCL);
  if (err < 0 && err != -NLE_EXIST) return fail(nlError(err, what));
  return {};
}

Result<void> deleteAddress(Socket& s, int ifindex, const IpNet& net) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = "deleting " + describe(ifindex, net);
  auto a = TRY(buildAddr(ifindex, net, what));
  int err = rtnl_addr_delete(s.get(), a.get(), 0);
  if (err < 0 && !nlAbsent(err)) return fail(nlError(err, what));
  return {};
}

Result<std::vector<AddrInfo>> dumpAddresses(Socket& s, int ifindex, int family) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  ifaddrmsg hdr{};
  hdr.ifa_family = uint8_t(family);
  return dumpAll<AddrInfo>(s, RTM_GETADDR, hdr, "addresses", [&](nl_msg* m) {
    std::optional<AddrInfo> out;
    parseObject(m, [&](nl_object* o) {
      if (std::strcmp(nl_object_get_type(o), "route/addr") != 0) return;
      auto* a = reinterpret_cast<rtnl_addr*>(o);
      int idx = rtnl_addr_get_ifindex(a);
      int fam = rtnl_addr_get_family(a);
      if ((ifindex && idx != ifindex) || (family && fam != family)) return;
      auto ip = fromNlAddr(rtnl_addr_get_local(a));
      if (!ip) return;
      out = AddrInfo{idx, IpNet(*ip, rtnl_addr_get_prefixlen(a)), rtnl_addr_get_scope(a),
                     rtnl_addr_get_flags(a)};
    });
    return out;
  });
}

}  // namespace ovl::nl
