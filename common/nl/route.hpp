// Routes (unicast, single nexthop).
#pragma once

#include <optional>
#include <vector>

#include "nl/socket.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::nl {

struct RouteSpec {
  IpNet dst;                 // 0.0.0.0/0 or ::/0 for a default route
  std::optional<IpAddr> gw;  // nexthop gateway
  int ifindex = 0;           // output interface, 0: let the kernel pick from gw
  unsigned mtu = 0;          // RTAX_MTU, 0: none
  unsigned advmss = 0;       // RTAX_ADVMSS, 0: none
  int priority = -1;         // metric, -1: kernel default
  unsigned table = 0;        // 0: main
  int scope = -1;            // RT_SCOPE_*, -1: link without gw, universe with gw
  bool operator==(const RouteSpec&) const = default;
};

// Adds the route; an identical existing route is success.
Result<void> addRoute(Socket& s, const RouteSpec& r);
// Deletes the route matching dst (and gw, ifindex, priority, table, scope when given); absent is success.
Result<void> deleteRoute(Socket& s, const RouteSpec& r);
// Unicast routes of one family (AF_INET/AF_INET6, 0 for both) in one table (0: main). Multipath routes
// report their first nexthop.
Result<std::vector<RouteSpec>> dumpRoutes(Socket& s, int family, unsigned table = 0);
// The default route of the main table with the lowest priority.
Result<std::optional<RouteSpec>> findDefaultRoute(Socket& s, int family);

}  // namespace ovl::nl
