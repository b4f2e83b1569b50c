// Per-device parameters of the kernel's ARP table (net/ipv4/neigh/<dev>/*), set over netlink.
//
// The same settings as the sysctls, without their path walk: every container's "eth0" has its own
// /proc/sys directory, all under one shared parent, so a lookup by name compares against all of them
// (measured: a sysctl write took 16 us with one such namespace and 66 us with 500 more).
#pragma once

#include <cstdint>

#include "nl/socket.hpp"
#include "util/error.hpp"

namespace ovl::nl {

struct ArpParms {
  uint64_t retransMs = 0;  // net/ipv4/neigh/<dev>/retrans_time_ms
  uint64_t locktimeMs = 0;  // net/ipv4/neigh/<dev>/locktime, in milliseconds (the sysctl counts jiffies)
};

// Sets both on the device ifindex of s's namespace (RTM_SETNEIGHTBL). Idempotent.
Result<void> setArpParms(Socket& s, int ifindex, const ArpParms& p);

// Reads them back (RTM_GETNEIGHTBL dump), for checks and tests.
Result<ArpParms> getArpParms(Socket& s, int ifindex);

}  // namespace ovl::nl
