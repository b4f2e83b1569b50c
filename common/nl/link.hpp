// Network interfaces: lookup, dump, delete and simple attribute changes.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nl/handles.hpp"
#include "nl/socket.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::nl {

struct LinkInfo {
  int index = 0;
  std::string name;
  std::string kind;  // "bridge", "vxlan", "veth", "dummy", ... or "" for physical devices
  MacAddr mac;       // invalid when the device has no 6-byte hardware address (lo has a zero one)
  unsigned mtu = 0;
  bool up = false;   // administratively up (IFF_UP)
  unsigned flags = 0;  // IFF_*
  int master = 0;      // bridge (or other master) ifindex, 0 for none
  int linkIndex = 0;   // IFLA_LINK: veth peer / vlan parent ifindex (in linkNetnsId's namespace), 0 none
  int linkNetnsId = -1;  // IFLA_LINK_NETNSID: peer namespace id as seen from this namespace, -1 same/none
  uint32_t group = 0;    // IFLA_GROUP: the interface group (0: default)
};

// Fills a LinkInfo from a libnl link object.
LinkInfo toLinkInfo(rtnl_link& link);

// Low level: the kernel's view of one link as a libnl object, nullptr when it does not exist.
Result<LinkPtr> getLink(Socket& s, std::string_view name);
Result<LinkPtr> getLinkByIndex(Socket& s, int index);

Result<std::optional<LinkInfo>> findLink(Socket& s, std::string_view name);
Result<std::optional<LinkInfo>> findLinkByIndex(Socket& s, int index);
// Finds the link or fails with an error naming it (sysErrno ENODEV).
Result<LinkInfo> requireLink(Socket& s, std::string_view name);
Result<std::vector<LinkInfo>> dumpLinks(Socket& s);
// The links whose master is masterIndex (a bridge's ports), filtered by the kernel (IFLA_MASTER) and
// without their statistics: the cost follows the bridge's ports, not every link of the namespace.
Result<std::vector<LinkInfo>> dumpPorts(Socket& s, int masterIndex);
// The same dump, each port's message with its LinkInfo (for what else the message carries).
Result<void> dumpPortMessages(Socket& s, int masterIndex, const std::function<void()>& reset,
                              const std::function<void(nl_msg*, LinkInfo)>& onPort);
// A LinkInfo from an RTM_NEWLINK message; nullopt when libnl cannot parse it.
std::optional<LinkInfo> linkInfoFrom(nl_msg* m);

// Deletes the link; an absent link is success.
Result<void> deleteLink(Socket& s, std::string_view name);
Result<void> deleteLinkByIndex(Socket& s, int index);

Result<void> setLinkUp(Socket& s, int index, bool up);
Result<void> setLinkMtu(Socket& s, int index, unsigned mtu);
Result<void> setLinkMac(Socket& s, int index, const MacAddr& mac);
// Sets one IPv4 setting of the device (net/ipv4/conf/<dev>/<key>; id is its IPV4_DEVCONF_* number from
// <linux/ip.h>), over netlink: no /proc/sys path walk. Idempotent.
Result<void> setLinkIpv4Conf(Socket& s, int index, unsigned id, uint32_t value);
// masterIndex 0 releases the link from its master.
Result<void> setLinkMaster(Socket& s, int index, int masterIndex);
// The same, and the link's interface group (IFLA_GROUP), in one request.
Result<void> setLinkMasterAndGroup(Socket& s, int index, int masterIndex, uint32_t group);
// Moves the link into the network namespace `netnsFd` names (its index may change there).
Result<void> moveLinkToNetns(Socket& s, int index, int netnsFd);
Result<void> renameLink(Socket& s, int index, std::string_view newName);

}  // namespace ovl::nl
