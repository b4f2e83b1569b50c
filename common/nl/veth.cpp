#include "nl/veth.hpp"

#include <netlink/errno.h>
#include <netlink/route/link/veth.h>

#include "metrics/tally.hpp"
#include "nl/error.hpp"
#include "util/rollback.hpp"

namespace ovl::nl {

Result<VethPair> createVeth(Socket& hostSock, std::string_view hostName, std::string_view peerName,
                            int peerNetnsFd, unsigned mtu, std::optional<MacAddr> peerMac,
                            std::optional<HostIpv6> hostIpv6) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  std::string host(hostName), peerN(peerName);
  std::string what = "creating veth '" + host + "' with peer '" + peerN + "' in netns fd " +
                     std::to_string(peerNetnsFd);
  LinkPtr link(rtnl_link_veth_alloc());
  if (!link) return fail(nlError(-NLE_NOMEM, what));
  LinkPtr peer(rtnl_link_veth_get_peer(link.get()));  // a new reference to the peer half
  if (!peer) return fail(nlError(-NLE_NOMEM, what));

  rtnl_link_set_name(link.get(), host.c_str());
  rtnl_link_set_name(peer.get(), peerN.c_str());
  if (mtu) {
    rtnl_link_set_mtu(link.get(), mtu);
    rtnl_link_set_mtu(peer.get(), mtu);
  }
  if (peerMac) {
    auto addr = TRY(toNlAddr(*peerMac));
    rtnl_link_set_addr(peer.get(), addr.get());
  }
  rtnl_link_set_ns_fd(peer.get(), peerNetnsFd);

  if (int err = rtnl_link_add(hostSock.get(), link.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0) {
    if (err == -NLE_EXIST)
      return fail(nlError(err, what + ": interface '" + host + "' or '" + peerN + "' already exists"));
    return fail(nlError(err, what));
  }
  Rollback undo([&] { (void)deleteLink(hostSock, host); });  // deleting one end deletes both

  auto found = TRY(findLink(hostSock, host));
  if (!found) return fail(nlError(-NLE_NODEV, what + ": host end vanished after creation"));
  if (hostIpv6) TRY_VOID(ensureHostIpv6(hostSock, *found, *hostIpv6));
  TRY_VOID(setLinkUp(hostSock, found->index, true));
  auto up = TRY(findLinkByIndex(hostSock, found->index));
  if (!up) return fail(nlError(-NLE_NODEV, what + ": host end vanished after creation"));
  undo.dismiss();
  return VethPair{*up, up->linkIndex};
}

}  // namespace ovl::nl
