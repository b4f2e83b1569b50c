#include "nl/bridge.hpp"

#include <linux/if.h>
#include <netlink/errno.h>
#include <netlink/route/link/bridge.h>

#include "nl/error.hpp"

namespace ovl::nl {
namespace {

Result<void> createBridge(Socket& s, const BridgeSpec& spec, const std::string& what) {
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

}  // namespace ovl::nl
