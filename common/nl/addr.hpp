// Interface addresses.
#pragma once

#include <vector>

#include "nl/socket.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::nl {

struct AddrInfo {
  int ifindex = 0;
  IpNet net;  // the local address with its prefix length, e.g. 10.1.0.5/24
  int scope = 0;  // RT_SCOPE_*
  unsigned flags = 0;  // IFA_F_*
};

// Adds the address; an identical address already present is success. IPv4 also gets the broadcast
// address of the prefix; noDad sets IFA_F_NODAD (IPv6 only).
Result<void> addAddress(Socket& s, int ifindex, const IpNet& net, bool noDad = false);
// Removes the address; absent (or an absent interface) is success.
Result<void> deleteAddress(Socket& s, int ifindex, const IpNet& net);
// ifindex 0: all interfaces; family 0: AF_INET and AF_INET6.
Result<std::vector<AddrInfo>> dumpAddresses(Socket& s, int ifindex = 0, int family = 0);

}  // namespace ovl::nl
