#include "nl/neigh.hpp"

#include <linux/neighbour.h>
#include <netlink/errno.h>

#include "metrics/tally.hpp"
#include "nl/error.hpp"
#include "nl/handles.hpp"
#include "nl/request.hpp"

namespace ovl::nl {
namespace {

std::string describe(int ifindex, const IpAddr& ip) {
  return "neighbour " + ip.str() + " on link index " + std::to_string(ifindex);
}

Result<NeighPtr> buildNeigh(int ifindex, const IpAddr& ip, const std::string& what) {
  NeighPtr n(rtnl_neigh_alloc());
  if (!n) return fail(nlError(-NLE_NOMEM, what));
  rtnl_neigh_set_ifindex(n.get(), ifindex);
  auto dst = TRY(toNlAddr(ip));
  if (int err = rtnl_neigh_set_dst(n.get(), dst.get()); err < 0) return fail(nlError(err, what));
  return n;
}

}  // namespace

Result<void> addNeigh(Socket& s, int ifindex, const IpAddr& ip, const MacAddr& mac, bool permanent) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = "adding " + describe(ifindex, ip) + " lladdr " + mac.str();
  auto n = TRY(buildNeigh(ifindex, ip, what));
  auto ll = TRY(toNlAddr(mac));
  rtnl_neigh_set_lladdr(n.get(), ll.get());
  rtnl_neigh_set_state(n.get(), permanent ? NUD_PERMANENT : NUD_REACHABLE);
  if (int err = rtnl_neigh_add(s.get(), n.get(), NLM_F_CREATE | NLM_F_REPLACE); err < 0)
    return fail(nlError(err, what));
  return {};
}

Result<void> deleteNeigh(Socket& s, int ifindex, const IpAddr& ip) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = "deleting " + describe(ifindex, ip);
  auto n = TRY(buildNeigh(ifindex, ip, what));
  int err = rtnl_neigh_delete(s.get(), n.get(), 0);
  if (err < 0 && !nlAbsent(err)) return fail(nlError(err, what));
  return {};
}

Result<std::vector<NeighInfo>> dumpNeighs(Socket& s, int ifindex, int family) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  ndmsg hdr{};
  hdr.ndm_family = uint8_t(family);
  return dumpAll<NeighInfo>(s, RTM_GETNEIGH, hdr, "neighbours", [&](nl_msg* m) -> std::optional<NeighInfo> {
    rtnl_neigh* raw = nullptr;
    if (rtnl_neigh_parse(nlmsg_hdr(m), &raw) < 0) return std::nullopt;
    NeighPtr n(raw);
    int fam = rtnl_neigh_get_family(n.get());
    if (fam != AF_INET && fam != AF_INET6) return std::nullopt;  // skips AF_BRIDGE (FDB) entries
    if ((family && fam != family) || (ifindex && rtnl_neigh_get_ifindex(n.get()) != ifindex)) return std::nullopt;
    auto ip = fromNlAddr(rtnl_neigh_get_dst(n.get()));
    if (!ip) return std::nullopt;
    NeighInfo ni{rtnl_neigh_get_ifindex(n.get()), *ip, {}, rtnl_neigh_get_state(n.get())};
    if (auto mac = macFromNlAddr(rtnl_neigh_get_lladdr(n.get()))) ni.mac = *mac;
    return ni;
  });
}

Result<void> flushNeighsFor(Socket& s, const IpAddr& ip) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  auto all = TRY(dumpNeighs(s, 0, ip.family()));
  for (const auto& n : all)
    if (n.ip == ip) TRY_VOID(deleteNeigh(s, n.ifindex, ip));
  return {};
}

}  // namespace ovl::nl
