// What `overlay watch` did with the ARP reports (vxlan/misses.hpp), for its metrics endpoint: counters the
// watcher's loop adds to and the metrics thread reads at a scrape.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "metrics/exposition.hpp"

namespace ovl::overlay {

struct MissFigures {
  std::atomic<uint64_t> answered{0};  // addresses announced after a read (or the feed's listing) found them
  std::atomic<uint64_t> fromFeed{0};  // of those, found in the change feed's latest listing (no read)
  std::atomic<uint64_t> unknown{0};   // addresses a read did not find
  std::atomic<uint64_t> ignored{0};   // reports not read for: local address, network not synced, limits
  std::atomic<uint64_t> flooded{0};  // requests sent on to every member: no answer came in time
  std::atomic<uint64_t> reads{0};     // leader reads made for reports (by the answerer and the loop)
  std::atomic<uint64_t> joins{0};     // hosts a report found on before the loop knew them as members, joined
};

inline void exposeMisses(metrics::Exposition& e, const MissFigures& f) {
  const std::vector<metrics::GaugeSample> outcomes{{{{"outcome", "answered"}}, double(f.answered)},
                                                   {{{"outcome", "unknown"}}, double(f.unknown)},
                                                   {{{"outcome", "ignored"}}, double(f.ignored)}};
  e.family("overlay_cni_arp_reports_total", "counter",
           "ARP requests no entry answered, reported to the watcher instead of flooded, by what it did with them.",
           outcomes);
  e.family("overlay_cni_arp_report_reads_total", "counter",
           "Reads of a network's records from the Consul leader made to answer ARP reports.",
           std::vector<metrics::GaugeSample>{{{}, double(f.reads)}});
  e.family("overlay_cni_arp_report_floods_total", "counter",
           "ARP requests sent on to every member of their network because no answer came in time (arp.floodAfterMs).",
           std::vector<metrics::GaugeSample>{{{}, double(f.flooded)}});
  e.family("overlay_cni_arp_reports_answered_from_feed_total", "counter",
           "Of the answered ARP reports, those found in the change feed's latest listing, without a read.",
           std::vector<metrics::GaugeSample>{{{}, double(f.fromFeed)}});
  e.family("overlay_cni_arp_report_joins_total", "counter",
           "Member hosts an ARP report found an address on before the watcher's feed told of their joining: their "
           "VTEP admitted and their flood entry added then, from the network's members as the feed or the leader had them.",
           std::vector<metrics::GaugeSample>{{{}, double(f.joins)}});
}

}  // namespace ovl::overlay
