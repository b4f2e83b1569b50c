// IP neighbour (ARP / NDP) entries.
#pragma once

#include <vector>

#include "nl/socket.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::nl {

struct NeighInfo {
  int ifindex = 0;
  IpAddr ip;
  MacAddr mac;    // invalid when the entry has no link-layer address (incomplete/failed)
  int state = 0;  // NUD_*
};

// Adds or replaces the entry; permanent: NUD_PERMANENT, otherwise NUD_REACHABLE.
Result<void> addNeigh(Socket& s, int ifindex, const IpAddr& ip, const MacAddr& mac, bool permanent);
// Deletes the entry; absent is success.
Result<void> deleteNeigh(Socket& s, int ifindex, const IpAddr& ip);
// ifindex 0: all interfaces; family 0: AF_INET and AF_INET6.
Result<std::vector<NeighInfo>> dumpNeighs(Socket& s, int ifindex = 0, int family = 0);
// Deletes the entries for ip on every interface; none is success.
Result<void> flushNeighsFor(Socket& s, const IpAddr& ip);

}  // namespace ovl::nl
