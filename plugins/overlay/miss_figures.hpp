// What `overlay watch` did with the ARP reports (vxlan/misses.hpp), for its metrics endpoint: counters the
// watcher's loop adds to and the metrics thread reads at a scrape.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "metrics/exposition.hpp"

namespace ovl::overlay {

struct MissFigures {
  std::atomic<uint64_t> answered{0};  // addresses announced after a read found them
  std::atomic<uint64_t> unknown{0};   // addresses a read did not find
  std::atomic<uint64_t> ignored{0};   // reports not read for: local address, network not synced, limits
  std::atomic<uint64_t> reads{0};     // leader reads made for reports
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
}

}  // namespace ovl::overlay
