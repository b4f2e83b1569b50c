#include "nl/neigh_parms.hpp"

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>

#include <optional>
#include <string>

#include "metrics/tally.hpp"
#include "nl/error.hpp"
#include "nl/handles.hpp"
#include "nl/request.hpp"

namespace ovl::nl {
namespace {

constexpr const char* kArpTable = "arp_cache";  // the kernel's arp_tbl.id

}  // namespace

Result<void> setArpParms(Socket& s, int ifindex, const ArpParms& p) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  const std::string what = "setting ARP parameters (retrans_time_ms " + std::to_string(p.retransMs) +
                           ", locktime " + std::to_string(p.locktimeMs) + " ms) of link index " +
                           std::to_string(ifindex);
  MsgPtr msg(nlmsg_alloc_simple(RTM_SETNEIGHTBL, 0));
  if (!msg) return fail(nlError(-NLE_NOMEM, what));
  ndtmsg hdr{};
  hdr.ndtm_family = AF_INET;
  nlattr* parms = nullptr;
  if (nlmsg_append(msg.get(), &hdr, sizeof hdr, NLMSG_ALIGNTO) < 0 ||
      nla_put_string(msg.get(), NDTA_NAME, kArpTable) < 0 ||
      (parms = nla_nest_start(msg.get(), NDTA_PARMS)) == nullptr ||
      nla_put_u32(msg.get(), NDTPA_IFINDEX, static_cast<uint32_t>(ifindex)) < 0 ||
      nla_put_u64(msg.get(), NDTPA_RETRANS_TIME, p.retransMs) < 0 ||
      nla_put_u64(msg.get(), NDTPA_LOCKTIME, p.locktimeMs) < 0)
    return fail(nlError(-NLE_NOMEM, what));
  nla_nest_end(msg.get(), parms);
  if (int err = sendSync(s, std::move(msg)); err < 0) return fail(nlError(err, what));
  return {};
}

Result<ArpParms> getArpParms(Socket& s, int ifindex) {
  const std::string what = "ARP parameters of link index " + std::to_string(ifindex);
  ndtmsg hdr{};
  hdr.ndtm_family = AF_INET;
  std::optional<ArpParms> found;
  TRY_VOID(dumpRaw(
      s, RTM_GETNEIGHTBL, &hdr, sizeof hdr, what, [&] { found.reset(); },
      [&](nl_msg* m) {
        nlattr* tb[NDTA_MAX + 1] = {};
        if (nlmsg_parse(nlmsg_hdr(m), sizeof(ndtmsg), tb, NDTA_MAX, nullptr) < 0) return;
        if (!tb[NDTA_NAME] || nla_strcmp(tb[NDTA_NAME], kArpTable) != 0 || !tb[NDTA_PARMS]) return;
        nlattr* pb[NDTPA_MAX + 1] = {};
        if (nla_parse_nested(pb, NDTPA_MAX, tb[NDTA_PARMS], nullptr) < 0) return;
        if (!pb[NDTPA_IFINDEX] || nla_get_u32(pb[NDTPA_IFINDEX]) != static_cast<uint32_t>(ifindex)) return;
        ArpParms p;
        if (pb[NDTPA_RETRANS_TIME]) p.retransMs = nla_get_u64(pb[NDTPA_RETRANS_TIME]);
        if (pb[NDTPA_LOCKTIME]) p.locktimeMs = nla_get_u64(pb[NDTPA_LOCKTIME]);
        found = p;
      }));
  if (!found) return fail(Code::Internal, what + ": not in the kernel's ARP table dump");
  return *found;
}

}  // namespace ovl::nl
