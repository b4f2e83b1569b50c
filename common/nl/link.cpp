#include "nl/link.hpp"

#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/object.h>
#include <netlink/route/link/inet.h>

#include <cstring>

#include "metrics/tally.hpp"
#include "nl/error.hpp"
#include "nl/request.hpp"

namespace ovl::nl {
namespace {

std::string quoted(std::string_view name) { return "'" + std::string(name) + "'"; }

// Applies `changes` to the link with this index (RTM_NEWLINK, falling back to RTM_SETLINK).
Result<void> changeLink(Socket& s, int index, rtnl_link* changes, const std::string& what) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  LinkPtr orig(rtnl_link_alloc());
  if (!orig) return fail(nlError(-NLE_NOMEM, what));
  rtnl_link_set_ifindex(orig.get(), index);
  if (int err = rtnl_link_change(s.get(), orig.get(), changes, 0); err < 0) return fail(nlError(err, what));
  return {};
}

Result<LinkPtr> newChanges(const std::string& what) {
  LinkPtr l(rtnl_link_alloc());
  if (!l) return fail(nlError(-NLE_NOMEM, what));
  return l;
}

}  // namespace

LinkInfo toLinkInfo(rtnl_link& link) {
  LinkInfo li;
  li.index = rtnl_link_get_ifindex(&link);
  if (const char* n = rtnl_link_get_name(&link)) li.name = n;
  if (const char* k = rtnl_link_get_type(&link)) li.kind = k;
  if (auto m = macFromNlAddr(rtnl_link_get_addr(&link))) li.mac = *m;
  li.mtu = rtnl_link_get_mtu(&link);
  li.flags = rtnl_link_get_flags(&link);
  li.up = (li.flags & IFF_UP) != 0;
  li.master = rtnl_link_get_master(&link);
  li.linkIndex = rtnl_link_get_link(&link);
  li.group = rtnl_link_get_group(&link);
  int32_t nsid = -1;
  if (rtnl_link_get_link_netnsid(&link, &nsid) == 0) li.linkNetnsId = nsid;
  return li;
}

Result<LinkPtr> getLink(Socket& s, std::string_view name) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  // A name the kernel cannot hold cannot exist.
  if (name.empty() || name.size() >= IFNAMSIZ) return LinkPtr();
  std::string n(name);
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(s.get(), 0, n.c_str(), &raw);
  LinkPtr link(raw);
  if (err < 0) {
    if (nlAbsent(err)) return LinkPtr();
    return fail(nlError(err, "looking up link " + quoted(name)));
  }
  return link;
}

Result<LinkPtr> getLinkByIndex(Socket& s, int index) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  if (index <= 0) return LinkPtr();
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(s.get(), index, nullptr, &raw);
  LinkPtr link(raw);
  if (err < 0) {
    if (nlAbsent(err)) return LinkPtr();
    return fail(nlError(err, "looking up link index " + std::to_string(index)));
  }
  return link;
}

Result<std::optional<LinkInfo>> findLink(Socket& s, std::string_view name) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  auto link = TRY(getLink(s, name));
  if (!link) return std::optional<LinkInfo>();
  return std::optional<LinkInfo>(toLinkInfo(*link));
}

Result<std::optional<LinkInfo>> findLinkByIndex(Socket& s, int index) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  auto link = TRY(getLinkByIndex(s, index));
  if (!link) return std::optional<LinkInfo>();
  return std::optional<LinkInfo>(toLinkInfo(*link));
}

Result<LinkInfo> requireLink(Socket& s, std::string_view name) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  auto li = TRY(findLink(s, name));
  if (!li) return fail(nlError(-NLE_NODEV, "link " + quoted(name)));
  return *li;
}

Result<std::vector<LinkInfo>> dumpLinks(Socket& s) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  ifinfomsg hdr{};
  hdr.ifi_family = AF_UNSPEC;
  return dumpAll<LinkInfo>(s, RTM_GETLINK, hdr, "links", linkInfoFrom);
}

std::optional<LinkInfo> linkInfoFrom(nl_msg* m) {
  std::optional<LinkInfo> out;
  parseObject(m, [&](nl_object* o) {
    if (std::strcmp(nl_object_get_type(o), "route/link") == 0) out = toLinkInfo(*reinterpret_cast<rtnl_link*>(o));
  });
  return out;
}

Result<void> dumpPortMessages(Socket& s, int masterIndex, const std::function<void()>& reset,
                              const std::function<void(nl_msg*, LinkInfo)>& onPort) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  return dumpBuilt(
      s,
      [&]() -> MsgPtr {
        MsgPtr m(nlmsg_alloc_simple(RTM_GETLINK, NLM_F_DUMP));
        ifinfomsg hdr{};
        hdr.ifi_family = AF_UNSPEC;
        if (!m || nlmsg_append(m.get(), &hdr, sizeof hdr, NLMSG_ALIGNTO) < 0 ||
            nla_put_u32(m.get(), IFLA_MASTER, static_cast<uint32_t>(masterIndex)) < 0 ||
            nla_put_u32(m.get(), IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0)
          return nullptr;
        return m;
      },
      "ports of link index " + std::to_string(masterIndex), reset,
      [&](nl_msg* m) {
        auto li = linkInfoFrom(m);
        if (li && li->master == masterIndex) onPort(m, std::move(*li));  // a kernel without the filter sends all
      });
}

Result<std::vector<LinkInfo>> dumpPorts(Socket& s, int masterIndex) {
  std::vector<LinkInfo> out;
  TRY_VOID(dumpPortMessages(s, masterIndex, [&] { out.clear(); }, [&](nl_msg*, LinkInfo li) {
    out.push_back(std::move(li));
  }));
  return out;
}

Result<void> deleteLink(Socket& s, std::string_view name) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  if (name.empty() || name.size() >= IFNAMSIZ) return {};
  std::string what = "deleting link " + quoted(name);
  LinkPtr link(rtnl_link_alloc());
  if (!link) return fail(nlError(-NLE_NOMEM, what));
  rtnl_link_set_name(link.get(), std::string(name).c_str());
  int err = rtnl_link_delete(s.get(), link.get());
  if (err < 0 && !nlAbsent(err)) return fail(nlError(err, what));
  return {};
}

Result<void> deleteLinkByIndex(Socket& s, int index) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = "deleting link index " + std::to_string(index);
  LinkPtr link(rtnl_link_alloc());
  if (!link) return fail(nlError(-NLE_NOMEM, what));
  rtnl_link_set_ifindex(link.get(), index);
  int err = rtnl_link_delete(s.get(), link.get());
  if (err < 0 && !nlAbsent(err)) return fail(nlError(err, what));
  return {};
}

Result<void> setLinkUp(Socket& s, int index, bool up) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = std::string("setting link index ") + std::to_string(index) + (up ? " up" : " down");
  auto ch = TRY(newChanges(what));
  if (up)
    rtnl_link_set_flags(ch.get(), IFF_UP);
  else
    rtnl_link_unset_flags(ch.get(), IFF_UP);
  return changeLink(s, index, ch.get(), what);
}

Result<void> setLinkMtu(Socket& s, int index, unsigned mtu) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = "setting mtu " + std::to_string(mtu) + " on link index " + std::to_string(index);
  auto ch = TRY(newChanges(what));
  rtnl_link_set_mtu(ch.get(), mtu);
  return changeLink(s, index, ch.get(), what);
}

Result<void> setLinkMac(Socket& s, int index, const MacAddr& mac) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = "setting MAC " + mac.str() + " on link index " + std::to_string(index);
  auto ch = TRY(newChanges(what));
  auto addr = TRY(toNlAddr(mac));
  rtnl_link_set_addr(ch.get(), addr.get());  // takes its own reference
  return changeLink(s, index, ch.get(), what);
}

Result<void> setLinkIpv4Conf(Socket& s, int index, unsigned id, uint32_t value) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = "setting IPv4 setting " + std::to_string(id) + " to " + std::to_string(value) +
                     " on link index " + std::to_string(index);
  auto ch = TRY(newChanges(what));
  if (int err = rtnl_link_inet_set_conf(ch.get(), id, value); err < 0) return fail(nlError(err, what));
  return changeLink(s, index, ch.get(), what);
}

Result<void> setLinkMaster(Socket& s, int index, int masterIndex) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = masterIndex ? "attaching link index " + std::to_string(index) + " to master index " +
                                       std::to_string(masterIndex)
                                 : "releasing link index " + std::to_string(index) + " from its master";
  auto ch = TRY(newChanges(what));
  rtnl_link_set_master(ch.get(), masterIndex);
  return changeLink(s, index, ch.get(), what);
}

Result<void> setLinkMasterAndGroup(Socket& s, int index, int masterIndex, uint32_t group) {
  std::string what = "attaching link index " + std::to_string(index) + " to master index " +
                     std::to_string(masterIndex) + " in group " + std::to_string(group);
  auto ch = TRY(newChanges(what));
  rtnl_link_set_master(ch.get(), masterIndex);
  rtnl_link_set_group(ch.get(), group);
  return changeLink(s, index, ch.get(), what);
}

Result<void> moveLinkToNetns(Socket& s, int index, int netnsFd) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = "moving link index " + std::to_string(index) + " to another network namespace";
  auto ch = TRY(newChanges(what));
  rtnl_link_set_ns_fd(ch.get(), netnsFd);
  return changeLink(s, index, ch.get(), what);
}

Result<void> renameLink(Socket& s, int index, std::string_view newName) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string what = "renaming link index " + std::to_string(index) + " to " + quoted(newName);
  if (newName.empty() || newName.size() >= IFNAMSIZ)
    return fail(Code::InvalidConfig, what + ": invalid interface name");
  auto ch = TRY(newChanges(what));
  rtnl_link_set_name(ch.get(), std::string(newName).c_str());
  return changeLink(s, index, ch.get(), what);
}

}  // namespace ovl::nl
