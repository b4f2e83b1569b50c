// Built by hand: libnl 3.7's rtnl_neigh refuses an AF_INET NDA_DST on an AF_BRIDGE neighbour
// (rtnl_neigh_set_dst -> -NLE_AF_MISMATCH), and does not parse NDA_MASTER.
#include "nl/fdb.hpp"

#include <linux/neighbour.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <sys/socket.h>

#include "metrics/tally.hpp"
#include "nl/error.hpp"
#include "nl/handles.hpp"
#include "nl/request.hpp"

namespace ovl::nl {
namespace {

std::string describe(int ifindex, const MacAddr& mac, const std::optional<IpAddr>& dst) {
  std::string d = "fdb entry " + mac.str();
  if (dst) d += " dst " + dst->str();
  return d + " on link index " + std::to_string(ifindex);
}

Result<MsgPtr> buildFdbMsg(int type, int nlFlags, int ifindex, const MacAddr& mac,
                           const std::optional<IpAddr>& dst, const std::string& what, bool master = false) {
  MsgPtr msg(nlmsg_alloc_simple(type, nlFlags));
  if (!msg) return fail(nlError(-NLE_NOMEM, what));
  ndmsg nd{};
  nd.ndm_family = AF_BRIDGE;
  nd.ndm_ifindex = ifindex;
  nd.ndm_state = master ? NUD_NOARP : NUD_PERMANENT | NUD_NOARP;
  nd.ndm_flags = master ? NTF_MASTER : NTF_SELF;
  bool ok = nlmsg_append(msg.get(), &nd, sizeof nd, NLMSG_ALIGNTO) == 0;
  ok = ok && nla_put(msg.get(), NDA_LLADDR, 6, mac.bytes().data()) == 0;
  if (dst) ok = ok && nla_put(msg.get(), NDA_DST, dst->byteLen(), dst->bytes()) == 0;
  if (!ok) return fail(nlError(-NLE_MSGSIZE, what));
  return msg;
}

std::optional<FdbEntry> parseFdb(nl_msg* m, int ifindex) {
  nlmsghdr* h = nlmsg_hdr(m);
  if (h->nlmsg_type != RTM_NEWNEIGH || !nlmsg_valid_hdr(h, sizeof(ndmsg))) return std::nullopt;
  auto* nd = static_cast<ndmsg*>(nlmsg_data(h));
  if (nd->ndm_family != AF_BRIDGE || nd->ndm_ifindex != ifindex) return std::nullopt;
  nlattr* tb[NDA_MAX + 1] = {};
  if (nlmsg_parse(h, sizeof(ndmsg), tb, NDA_MAX, nullptr) < 0) return std::nullopt;
  if (!tb[NDA_LLADDR] || nla_len(tb[NDA_LLADDR]) != 6) return std::nullopt;
  FdbEntry e;
  e.ifindex = nd->ndm_ifindex;
  e.state = nd->ndm_state;
  e.flags = nd->ndm_flags;
  std::array<uint8_t, 6> mac{};
  nla_memcpy(mac.data(), tb[NDA_LLADDR], 6);
  e.mac = MacAddr(mac);
  if (tb[NDA_DST]) {
    int len = nla_len(tb[NDA_DST]);
    if (len == 4) e.dst = IpAddr::fromBytes(AF_INET, nla_data(tb[NDA_DST]));
    if (len == 16) e.dst = IpAddr::fromBytes(AF_INET6, nla_data(tb[NDA_DST]));
  }
  if (tb[NDA_MASTER] && nla_len(tb[NDA_MASTER]) >= 4) e.master = int(nla_get_u32(tb[NDA_MASTER]));
  return e;
}

}  // namespace

Result<void> appendFdb(Socket& s, int ifindex, const MacAddr& mac, const IpAddr& dst) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = "appending " + describe(ifindex, mac, dst);
  auto msg = TRY(buildFdbMsg(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_APPEND, ifindex, mac, dst, what));
  int err = sendSync(s, std::move(msg));
  if (err < 0 && err != -NLE_EXIST) return fail(nlError(err, what));
  return {};
}

Result<void> replaceFdb(Socket& s, int ifindex, const MacAddr& mac, const IpAddr& dst) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = "setting " + describe(ifindex, mac, dst);
  auto msg = TRY(buildFdbMsg(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, ifindex, mac, dst, what));
  if (int err = sendSync(s, std::move(msg)); err < 0) return fail(nlError(err, what));
  return {};
}

Result<void> replaceMasterFdb(Socket& s, int portIndex, const MacAddr& mac) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = "setting the bridge's " + describe(portIndex, mac, std::nullopt);
  auto msg = TRY(buildFdbMsg(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, portIndex, mac, std::nullopt, what, true));
  if (int err = sendSync(s, std::move(msg)); err < 0) return fail(nlError(err, what));
  return {};
}

Result<void> deleteMasterFdb(Socket& s, int portIndex, const MacAddr& mac) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = "deleting the bridge's " + describe(portIndex, mac, std::nullopt);
  auto msg = TRY(buildFdbMsg(RTM_DELNEIGH, 0, portIndex, mac, std::nullopt, what, true));
  int err = sendSync(s, std::move(msg));
  if (err < 0 && !nlAbsent(err)) return fail(nlError(err, what));
  return {};
}

Result<void> deleteFdb(Socket& s, int ifindex, const MacAddr& mac, std::optional<IpAddr> dst) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = "deleting " + describe(ifindex, mac, dst);
  auto msg = TRY(buildFdbMsg(RTM_DELNEIGH, 0, ifindex, mac, dst, what));
  int err = sendSync(s, std::move(msg));
  if (err < 0 && !nlAbsent(err)) return fail(nlError(err, what));
  return {};
}

Result<std::vector<FdbEntry>> dumpFdb(Socket& s, int ifindex) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  // With an ifinfomsg header the kernel dumps only the device ifi_index; we filter again on our side.
  ifinfomsg hdr{};
  hdr.ifi_family = AF_BRIDGE;
  hdr.ifi_index = ifindex;
  return dumpAll<FdbEntry>(s, RTM_GETNEIGH, hdr, "fdb of link index " + std::to_string(ifindex),
                           [&](nl_msg* m) { return parseFdb(m, ifindex); });
}

}  // namespace ovl::nl
