// The ARP hold: while `overlay watch` runs, the first broadcast ARP request a container sends towards the
// VXLAN port for an address this host does not know yet is dropped instead of copied to every member host;
// the container asks again after 100 ms, and by then the watcher has usually installed the address (the
// bridge answers it, vxlan/peers.hpp), or the retry floods as it would without the hold.
//
//   table bridge ovl_arphold {
//     set held { type ifname . ipv4_addr; flags dynamic,timeout; timeout 1s; size 65536; }
//     chain hold { type filter hook forward priority 0; policy accept;
//       oifname "ovx-*" ether daddr ff:ff:ff:ff:ff:ff arp operation request oifname . arp daddr ip @held accept
//       oifname "ovx-*" ether daddr ff:ff:ff:ff:ff:ff arp operation request add @held { oifname . arp daddr ip }
//         counter drop } }
//
// Requests for known addresses never get here (neigh_suppress answers them on the bridge). A full set ends
// the second rule without a verdict, so a container that asks for thousands of addresses floods as it
// would without the hold. Without a watcher the table is absent; a watcher killed leaves it, which costs a
// first contact 100 ms and nothing else.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "nfnl/batch.hpp"
#include "util/error.hpp"

namespace ovl::vxlan {

inline constexpr std::string_view kArpHoldTable = "ovl_arphold";
inline constexpr uint32_t kArpHoldMs = 1000;

// The table, its set and its chain with both rules (replaced if there), for the watcher's start.
void addArpHold(nfnl::Batch& b);
// The expressions of the two rules: the match, then "accept" when held, or "add, count and drop".
std::vector<nfnl::Expr> arpHoldRule(bool hold);

// Installs the hold in this thread's network namespace (idempotent) / removes it (absent is success).
Result<void> installArpHold();
Result<void> removeArpHold();

}  // namespace ovl::vxlan
