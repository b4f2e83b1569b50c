// The nf_tables objects that turn an ARP request this host's bridges could not answer into a report to
// `overlay watch` instead of a copy to every member of the network. Pure (the batch is committed by the
// caller), so the unit tests check it without privileges.
//
//   table bridge ovl_arp {
//     set ports { type ifname; }                 # the VXLAN devices of the networks the watcher has synced
//     chain out { type filter hook forward priority 0; policy accept;
//       oifname @ports ether daddr ff:ff:ff:ff:ff:ff ether type arp arp operation request
//         log group 20310 snaplen 64 drop } }
//
// A request reaches a VXLAN port only when the bridge did not answer it (neigh_suppress answers the
// addresses the watcher has entries for, vxlan/peers.hpp); the watcher reads the reports on nfnetlink_log
// (vxlan/misses.hpp), reads the network's records from the leader and answers. ARP replies, IPv6 neighbour
// discovery and every other frame pass as before, and so do requests on a network the watcher has not
// synced yet (a host that just joined it). The table exists only while a watcher runs: the watcher adds it
// with the first network it syncs and removes it at exit, and an ADD removes it when the watcher that added
// it died (vxlan/watch_lock.hpp).
#pragma once

#include <cstdint>
#include <string_view>

#include "nfnl/batch.hpp"

namespace ovl::vxlan {

inline constexpr std::string_view kArpTable = "ovl_arp";
inline constexpr std::string_view kArpChain = "out";
// The nfnetlink_log group, per network namespace: one watcher per host binds it.
inline constexpr uint16_t kArpLogGroup = 20310;
inline constexpr uint32_t kArpSnaplen = 64;  // an ARP packet is 28 bytes
inline constexpr std::string_view kArpRuleComment = "ovl-arp: an ARP request no entry answered, for overlay watch";

// The table, set, chain and rule (replacing a rule there). Idempotent; the set keeps its elements.
void addArpReports(nfnl::Batch& b);
// Requests leaving by the VXLAN device `port` are reported (added to the set; adding one there is success).
void addArpReportPort(nfnl::Batch& b, std::string_view port);
// ... no longer (the commit fails with ENOENT when it is not in the set).
void addArpReportPortRemoved(nfnl::Batch& b, std::string_view port);
// Removes the table; the commit fails with ENOENT when it is not there.
void addArpReportsRemoved(nfnl::Batch& b);

}  // namespace ovl::vxlan
