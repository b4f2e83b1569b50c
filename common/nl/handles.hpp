// Owning handles for libnl objects, and conversions between libnl addresses and our value types.
//
// Ownership rules of libnl we rely on:
//  - *_alloc(), rtnl_link_get_kernel(), rtnl_link_veth_get_peer(), rtnl_*_parse() return a new reference.
//  - accessors (rtnl_link_get_addr(), rtnl_route_nh_get_gateway(), ...) return borrowed pointers.
//  - setters taking an nl_addr (rtnl_addr_set_local(), rtnl_neigh_set_dst(), ...) take their own reference,
//    so the caller still releases its handle.
//  - rtnl_route_add_nexthop() takes ownership of the nexthop.
//  - nl_send_sync() frees the message it is given.
#pragma once

#include <netlink/addr.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>

#include <memory>
#include <optional>

#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::nl {

template <class T, auto Fn>
struct Deleter {
  void operator()(T* p) const noexcept {
    if (p) Fn(p);
  }
};
template <class T, auto Fn>
using CPtr = std::unique_ptr<T, Deleter<T, Fn>>;

using SockPtr = CPtr<nl_sock, nl_socket_free>;
using LinkPtr = CPtr<rtnl_link, rtnl_link_put>;
using AddrObjPtr = CPtr<rtnl_addr, rtnl_addr_put>;
using RoutePtr = CPtr<rtnl_route, rtnl_route_put>;
using NeighPtr = CPtr<rtnl_neigh, rtnl_neigh_put>;
using CachePtr = CPtr<nl_cache, nl_cache_free>;
using NlAddrPtr = CPtr<nl_addr, nl_addr_put>;
using MsgPtr = CPtr<nl_msg, nlmsg_free>;
using CbPtr = CPtr<nl_cb, nl_cb_put>;

// nl_addr for an IP address; prefix < 0 means a host prefix (/32 or /128).
Result<NlAddrPtr> toNlAddr(const IpAddr& ip, int prefix = -1);
Result<NlAddrPtr> toNlAddr(const IpNet& net);
Result<NlAddrPtr> toNlAddr(const MacAddr& mac);
// Converts back; nullopt when the nl_addr is missing or not of the expected family/length.
// An empty nl_addr of family AF_INET/AF_INET6 (libnl's "any") becomes the all-zero address.
std::optional<IpAddr> fromNlAddr(const nl_addr* a);
std::optional<MacAddr> macFromNlAddr(const nl_addr* a);

}  // namespace ovl::nl
