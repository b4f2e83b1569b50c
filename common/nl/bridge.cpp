#include "nl/bridge.hpp"

#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/route/link/bridge.h>
#include <sys/socket.h>

#include "metrics/tally.hpp"
#include "nl/error.hpp"
#include "nl/request.hpp"

namespace ovl::nl {
namespace {

Result<void> createBridge(Socket& s, const BridgeSpec& spec, const std::string& what) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  LinkPtr link(rtnl_link_bridge_alloc());
  if (!link) return fail(nlError(-NLE_NOMEM, what));
  rtnl_link_set_name(link.get(), spec.name.c_str());
  if (spec.mtu) rtnl_link_set_mtu(link.get(), spec.mtu);
  if (spec.mac) {
    auto addr = TRY(toNlAddr(*spec.mac));
    rtnl_link_set_addr(link.get(), addr.get());
  }
  int err = rtnl_link_add(s.get(), link.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0 && err != -NLE_EXIST) return fail(nlError(err, what));
  return {};  // EEXIST: created concurrently, verified by the caller
}

}  // namespace

Result<LinkInfo> ensureBridge(Socket& s, const BridgeSpec& spec) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = "creating bridge '" + spec.name + "'";
  auto found = TRY(findLink(s, spec.name));
  if (!found) {
    TRY_VOID(createBridge(s, spec, what));
    auto created = TRY(findLink(s, spec.name));
    if (!created) return fail(nlError(-NLE_NODEV, what + ": vanished after creation"));
    found = std::move(created);
  }
  if (found->kind != "bridge")
    return fail(Code::InvalidConfig, "link '" + spec.name + "' exists but is " +
                                         (found->kind.empty() ? std::string("not a bridge")
                                                              : "a " + found->kind + ", not a bridge"));
  if (spec.mtu && found->mtu != spec.mtu) TRY_VOID(setLinkMtu(s, found->index, spec.mtu));
  if (spec.mac && found->mac != *spec.mac) TRY_VOID(setLinkMac(s, found->index, *spec.mac));
  if (spec.ipv6) TRY_VOID(ensureHostIpv6(s, *found, *spec.ipv6));
  if (spec.up && !found->up) TRY_VOID(setLinkUp(s, found->index, true));
  auto now = TRY(findLinkByIndex(s, found->index));
  if (!now) return fail(nlError(-NLE_NODEV, "bridge '" + spec.name + "' vanished"));
  return *now;
}

Result<void> setBridgePortOptions(Socket& s, int portIndex, bool hairpin, bool learning) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = "setting bridge port options (hairpin " + std::string(hairpin ? "on" : "off") +
                     ", learning " + (learning ? "on" : "off") + ") on link index " + std::to_string(portIndex);
  // libnl sends AF_BRIDGE RTM_SETLINK with a nested IFLA_PROTINFO; orig and changes must share the family.
  LinkPtr orig(rtnl_link_alloc());
  LinkPtr ch(rtnl_link_alloc());
  if (!orig || !ch) return fail(nlError(-NLE_NOMEM, what));
  rtnl_link_set_ifindex(orig.get(), portIndex);
  rtnl_link_set_family(orig.get(), AF_BRIDGE);
  rtnl_link_set_ifindex(ch.get(), portIndex);
  rtnl_link_set_family(ch.get(), AF_BRIDGE);
  int err = hairpin ? rtnl_link_bridge_set_flags(ch.get(), RTNL_BRIDGE_HAIRPIN_MODE)
                    : rtnl_link_bridge_unset_flags(ch.get(), RTNL_BRIDGE_HAIRPIN_MODE);
  if (err >= 0)
    err = learning ? rtnl_link_bridge_set_flags(ch.get(), RTNL_BRIDGE_LEARNING)
                   : rtnl_link_bridge_unset_flags(ch.get(), RTNL_BRIDGE_LEARNING);
  if (err >= 0) err = rtnl_link_change(s.get(), orig.get(), ch.get(), 0);
  if (err < 0) return fail(nlError(err, what));
  return {};
}

// Built by hand: libnl 3.7 has no flag for IFLA_BRPORT_NEIGH_SUPPRESS.
Result<void> setBridgePortNeighSuppress(Socket& s, int portIndex, bool on) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = std::string("turning neigh_suppress ") + (on ? "on" : "off") + " on link index " +
                     std::to_string(portIndex);
  MsgPtr msg(nlmsg_alloc_simple(RTM_SETLINK, 0));
  if (!msg) return fail(nlError(-NLE_NOMEM, what));
  ifinfomsg ifi{};
  ifi.ifi_family = AF_BRIDGE;
  ifi.ifi_index = portIndex;
  bool ok = nlmsg_append(msg.get(), &ifi, sizeof ifi, NLMSG_ALIGNTO) == 0;
  nlattr* proto = ok ? nla_nest_start(msg.get(), IFLA_PROTINFO | NLA_F_NESTED) : nullptr;
  ok = proto && nla_put_u8(msg.get(), IFLA_BRPORT_NEIGH_SUPPRESS, on ? 1 : 0) == 0;
  if (ok) nla_nest_end(msg.get(), proto);
  if (!ok) return fail(nlError(-NLE_MSGSIZE, what));
  if (int err = sendSync(s, std::move(msg)); err < 0) return fail(nlError(err, what));
  return {};
}

}  // namespace ovl::nl
