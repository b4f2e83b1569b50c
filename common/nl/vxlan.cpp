#include "nl/vxlan.hpp"

#include <arpa/inet.h>
#include <linux/if_link.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/route/link/vxlan.h>

#include "metrics/tally.hpp"
#include "nl/error.hpp"
#include "nl/request.hpp"

namespace ovl::nl {
namespace {

std::string describe(const VxlanSpec& spec) {
  std::string d = "vxlan '" + spec.name + "' (vni " + std::to_string(spec.vni);
  if (spec.local.valid()) d += ", local " + spec.local.str();
  d += ", port " + std::to_string(spec.port) + ")";
  return d;
}

VxlanInfo toVxlanInfo(rtnl_link& link) {
  VxlanInfo v;
  v.link = toLinkInfo(link);
  uint32_t u = 0;
  if (rtnl_link_vxlan_get_id(&link, &u) == 0) v.vni = u;
  nl_addr* raw = nullptr;
  if (rtnl_link_vxlan_get_local(&link, &raw) == 0) {
    NlAddrPtr local(raw);  // a new address object, ours to release
    if (auto ip = fromNlAddr(local.get())) v.local = *ip;
  }
  if (rtnl_link_vxlan_get_link(&link, &u) == 0) v.underlayIndex = int(u);
  // libnl keeps the port in network order internally and converts in the getter.
  if (rtnl_link_vxlan_get_port(&link, &u) == 0) v.port = uint16_t(u);
  v.learning = rtnl_link_vxlan_get_learning(&link) > 0;
  if (rtnl_link_vxlan_get_ageing(&link, &u) == 0) v.ageing = u;
  int ttl = rtnl_link_vxlan_get_ttl(&link);
  v.ttl = ttl > 0 ? uint8_t(ttl) : 0;
  return v;
}

bool matches(const VxlanInfo& have, const VxlanSpec& want) {
  return have.vni == want.vni && have.local == want.local && have.port == want.port &&
         have.learning == want.learning && (!want.underlayIndex || have.underlayIndex == want.underlayIndex);
}

// Built by hand rather than with rtnl_link_vxlan_set_port(): libnl 3.7 encodes IFLA_VXLAN_PORT as a
// 4-byte attribute (the kernel logs "attribute type 15 has an invalid length", and the port would be wrong
// on big-endian hosts). The kernel wants a 2-byte big-endian value.
Result<void> createVxlan(Socket& s, const VxlanSpec& spec, const std::string& what) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  MsgPtr msg(nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL));
  if (!msg) return fail(nlError(-NLE_NOMEM, what));
  nl_msg* m = msg.get();
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  bool ok = nlmsg_append(m, &ifi, sizeof ifi, NLMSG_ALIGNTO) == 0;
  ok = ok && nla_put_string(m, IFLA_IFNAME, spec.name.c_str()) == 0;
  if (spec.mtu) ok = ok && nla_put_u32(m, IFLA_MTU, spec.mtu) == 0;
  if (spec.mac) ok = ok && nla_put(m, IFLA_ADDRESS, 6, spec.mac->bytes().data()) == 0;
  nlattr* info = ok ? nla_nest_start(m, IFLA_LINKINFO) : nullptr;
  ok = info && nla_put_string(m, IFLA_INFO_KIND, "vxlan") == 0;
  nlattr* data = ok ? nla_nest_start(m, IFLA_INFO_DATA) : nullptr;
  ok = data && nla_put_u32(m, IFLA_VXLAN_ID, spec.vni) == 0;
  if (spec.local.isV4()) ok = ok && nla_put(m, IFLA_VXLAN_LOCAL, 4, spec.local.bytes()) == 0;
  if (spec.local.isV6()) ok = ok && nla_put(m, IFLA_VXLAN_LOCAL6, 16, spec.local.bytes()) == 0;
  if (spec.underlayIndex) ok = ok && nla_put_u32(m, IFLA_VXLAN_LINK, uint32_t(spec.underlayIndex)) == 0;
  uint16_t portBe = htons(spec.port);
  ok = ok && nla_put(m, IFLA_VXLAN_PORT, sizeof portBe, &portBe) == 0;
  ok = ok && nla_put_u8(m, IFLA_VXLAN_LEARNING, spec.learning ? 1 : 0) == 0;
  ok = ok && nla_put_u32(m, IFLA_VXLAN_AGEING, spec.ageing) == 0;
  ok = ok && nla_put_u8(m, IFLA_VXLAN_TTL, spec.ttl) == 0;
  ok = ok && nla_put_u8(m, IFLA_VXLAN_UDP_CSUM, spec.udpCsum ? 1 : 0) == 0;
  if (!ok) return fail(nlError(-NLE_MSGSIZE, what));
  nla_nest_end(m, data);
  nla_nest_end(m, info);
  int err = sendSync(s, std::move(msg));
  if (err < 0 && err != -NLE_EXIST) return fail(nlError(err, what));
  return {};  // EEXIST: created concurrently, verified by the caller
}

}  // namespace

Result<std::optional<VxlanInfo>> findVxlan(Socket& s, std::string_view name) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  auto link = TRY(getLink(s, name));
  if (!link) return std::optional<VxlanInfo>();
  if (!rtnl_link_is_vxlan(link.get())) {
    const char* kind = rtnl_link_get_type(link.get());
    return fail(Code::InvalidConfig, "link '" + std::string(name) + "' exists but is " +
                                         (kind ? "a " + std::string(kind) + ", " : std::string()) +
                                         "not a vxlan device");
  }
  return std::optional<VxlanInfo>(toVxlanInfo(*link));
}

Result<VxlanInfo> ensureVxlan(Socket& s, const VxlanSpec& spec) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = "creating " + describe(spec);
  if (spec.vni == 0 || spec.vni > VXLAN_ID_MAX)
    return fail(Code::InvalidConfig, what + ": vni must be 1.." + std::to_string(VXLAN_ID_MAX));
  auto found = TRY(findVxlan(s, spec.name));
  if (found && !matches(*found, spec)) {
    TRY_VOID(deleteLink(s, spec.name));
    found.reset();
  }
  if (!found) {
    TRY_VOID(createVxlan(s, spec, what));
    auto created = TRY(findVxlan(s, spec.name));
    if (!created) return fail(nlError(-NLE_NODEV, what + ": vanished after creation"));
    if (!matches(*created, spec))
      return fail(nlError(-NLE_EXIST, what + ": created concurrently with other parameters"));
    found = std::move(created);
  }
  if (spec.mtu && found->link.mtu != spec.mtu) TRY_VOID(setLinkMtu(s, found->link.index, spec.mtu));
  if (spec.ipv6) TRY_VOID(ensureHostIpv6(s, found->link, *spec.ipv6));
  if (!found->link.up) TRY_VOID(setLinkUp(s, found->link.index, true));
  auto now = TRY(findVxlan(s, spec.name));
  if (!now) return fail(nlError(-NLE_NODEV, describe(spec) + " vanished"));
  return *now;
}

}  // namespace ovl::nl
