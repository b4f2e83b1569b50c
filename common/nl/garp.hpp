// Gratuitous ARP: "IP is at MAC", broadcast on one interface, so that neighbours update their caches.
#pragma once

#include "util/error.hpp"
#include "util/ip.hpp"
#include "util/unique_fd.hpp"

namespace ovl::nl {

// A send-only packet socket in the calling thread's network namespace (it stays in that namespace): bound
// to no protocol, it receives nothing, so it can be kept open.
Result<UniqueFd> openArpSocket();
// Sends an ARP request with sender and target address `ip` and sender hardware address `mac` to the
// broadcast address on `ifindex` (of the socket's namespace).
Result<void> sendGratuitousArp(int arpSocket, int ifindex, const MacAddr& mac, const IpAddr& ip);
// Sends an ARP request for `target` in the name of (`senderMac`, `sender`) to the broadcast address on
// `ifindex`: replies go to senderMac. The frame's source is the device's own address.
Result<void> sendArpRequest(int arpSocket, int ifindex, const MacAddr& senderMac, const IpAddr& sender,
                            const IpAddr& target);

}  // namespace ovl::nl
