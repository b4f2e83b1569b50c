#include "nl/route.hpp"

#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/object.h>
#include <netlink/route/nexthop.h>

#include <cstring>

#include "metrics/tally.hpp"
#include "nl/error.hpp"
#include "nl/handles.hpp"
#include "nl/request.hpp"

namespace ovl::nl {
namespace {

using NexthopPtr = CPtr<rtnl_nexthop, rtnl_route_nh_free>;

unsigned tableOf(unsigned t) { return t ? t : RT_TABLE_MAIN; }

std::string describe(const RouteSpec& r) {
  std::string d = "route " + r.dst.str();
  if (r.gw) d += " via " + r.gw->str();
  if (r.ifindex) d += " dev index " + std::to_string(r.ifindex);
  if (r.priority >= 0) d += " metric " + std::to_string(r.priority);
  if (r.table) d += " table " + std::to_string(r.table);
  return d;
}

// forDelete leaves protocol unspecified so routes added by other tools match too.
Result<RoutePtr> buildRoute(const RouteSpec& r, bool forDelete, const std::string& what) {
  if (r.gw && r.gw->family() != r.dst.family())
    return fail(Code::InvalidConfig, what + ": gateway family differs from destination");
  RoutePtr route(rtnl_route_alloc());
  if (!route) return fail(nlError(-NLE_NOMEM, what));
  auto dst = TRY(toNlAddr(r.dst.masked()));
  if (int err = rtnl_route_set_dst(route.get(), dst.get()); err < 0) return fail(nlError(err, what));
  rtnl_route_set_table(route.get(), tableOf(r.table));
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  if (forDelete)
    rtnl_route_set_protocol(route.get(), RTPROT_UNSPEC);
  else
    rtnl_route_set_protocol(route.get(), RTPROT_BOOT);
  int scope = r.scope >= 0 ? r.scope : r.gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  rtnl_route_set_scope(route.get(), uint8_t(scope));
  if (r.priority >= 0) rtnl_route_set_priority(route.get(), uint32_t(r.priority));
  if (r.mtu && !forDelete) rtnl_route_set_metric(route.get(), RTAX_MTU, r.mtu);
  if (r.advmss && !forDelete) rtnl_route_set_metric(route.get(), RTAX_ADVMSS, r.advmss);
  if (r.gw || r.ifindex) {
    NexthopPtr nh(rtnl_route_nh_alloc());
    if (!nh) return fail(nlError(-NLE_NOMEM, what));
    if (r.ifindex) rtnl_route_nh_set_ifindex(nh.get(), r.ifindex);
    if (r.gw) {
      auto gw = TRY(toNlAddr(*r.gw));
      rtnl_route_nh_set_gateway(nh.get(), gw.get());  // takes its own reference
    }
    rtnl_route_add_nexthop(route.get(), nh.release());  // the route owns the nexthop now
  }
  return route;
}

std::optional<RouteSpec> toRouteSpec(rtnl_route* rt, unsigned wantTable) {
  if (rtnl_route_get_type(rt) != RTN_UNICAST) return std::nullopt;
  if (rtnl_route_get_table(rt) != tableOf(wantTable)) return std::nullopt;
  nl_addr* dstRaw = rtnl_route_get_dst(rt);
  auto dst = fromNlAddr(dstRaw);
  if (!dst) return std::nullopt;
  RouteSpec r;
  r.dst = IpNet(*dst, int(nl_addr_get_prefixlen(dstRaw)));
  r.table = wantTable;
  r.priority = int(rtnl_route_get_priority(rt));
  r.scope = rtnl_route_get_scope(rt);
  uint32_t v = 0;
  if (rtnl_route_get_metric(rt, RTAX_MTU, &v) == 0) r.mtu = v;
  if (rtnl_route_get_metric(rt, RTAX_ADVMSS, &v) == 0) r.advmss = v;
  if (rtnl_route_get_nnexthops(rt) > 0) {
    rtnl_nexthop* nh = rtnl_route_nexthop_n(rt, 0);  // borrowed
    r.ifindex = rtnl_route_nh_get_ifindex(nh);
    if (auto gw = fromNlAddr(rtnl_route_nh_get_gateway(nh))) r.gw = *gw;
  }
  return r;
}

}  // namespace

Result<void> addRoute(Socket& s, const RouteSpec& r) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = "adding " + describe(r);
  auto route = TRY(buildRoute(r, false, what));
  int err = rtnl_route_add(s.get(), route.get(), NLM_F_EXCL);
  if (err < 0 && err != -NLE_EXIST) return fail(nlError(err, what));
  return {};
}

Result<void> deleteRoute(Socket& s, const RouteSpec& r) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = "deleting " + describe(r);
  auto route = TRY(buildRoute(r, true, what));
  int err = rtnl_route_delete(s.get(), route.get(), 0);
  if (err < 0 && !nlAbsent(err)) return fail(nlError(err, what));
  return {};
}

Result<std::vector<RouteSpec>> dumpRoutes(Socket& s, int family, unsigned table) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  rtmsg hdr{};
  hdr.rtm_family = uint8_t(family);
  return dumpAll<RouteSpec>(s, RTM_GETROUTE, hdr, "routes", [&](nl_msg* m) {
    std::optional<RouteSpec> out;
    parseObject(m, [&](nl_object* o) {
      if (std::strcmp(nl_object_get_type(o), "route/route") != 0) return;
      auto* rt = reinterpret_cast<rtnl_route*>(o);
      if (family && rtnl_route_get_family(rt) != family) return;
      out = toRouteSpec(rt, table);
    });
    return out;
  });
}

Result<std::optional<RouteSpec>> findDefaultRoute(Socket& s, int family) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  auto routes = TRY(dumpRoutes(s, family, 0));
  std::optional<RouteSpec> best;
  for (auto& r : routes)
    if (r.dst.prefix() == 0 && (!best || r.priority < best->priority)) best = r;
  return best;
}

}  // namespace ovl::nl
