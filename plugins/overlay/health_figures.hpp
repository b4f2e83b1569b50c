// What the health mesh knows per probed peer, for the watcher's metrics endpoint: the mesh's thread sets a
// copy after each round, the metrics thread reads one at a scrape (a mutex around a vector of at most
// kMaxPeersPerRound peers). A peer that stops being probed leaves the figures, and its counters start
// again from 0 if it comes back (Prometheus treats that as a counter reset).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "metrics/exposition.hpp"

namespace ovl::overlay {

struct PeerFigures {
  std::string peer;
  bool known = false;  // up or down decided: an answer, or kLostRounds rounds lost in a row
  bool up = false;
  double rttSeconds = 0;  // the last answered echo; 0 before the first
  uint64_t probes = 0;    // reachability echoes sent, one per round
  uint64_t lost = 0;      // of those, not answered within their round
  unsigned largest = 0;   // the largest IP packet (bytes, DF) answered, 0: none yet
  bool operator==(const PeerFigures&) const = default;
};

class HealthFigures {
 public:
  void set(std::vector<PeerFigures> peers);
  std::vector<PeerFigures> get() const;

 private:
  mutable std::mutex mu_;
  std::vector<PeerFigures> peers_;
};

// overlay_cni_health_* families, one series per peer.
void exposeHealth(metrics::Exposition& e, const std::vector<PeerFigures>& peers);

}  // namespace ovl::overlay
