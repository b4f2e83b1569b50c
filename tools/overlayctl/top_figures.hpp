// overlayctl top's figures of one host, read from its watcher's /metrics (metrics/scrape.hpp): pure, so
// unit-tested without a watcher.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "metrics/scrape.hpp"

namespace ovl::ctl {

struct CallFigures {
  uint64_t ok = 0;
  std::map<int, uint64_t> errors;  // by CNI code
  double seconds = 0;              // summed latency of all of them
  uint64_t total() const;
};

struct NetFigures {
  std::map<std::string, double> values;  // "members", "floodEntries", ...: only those exported
};

struct HostFigures {
  std::map<std::pair<std::string, std::string>, CallFigures> calls;  // (plugin, verb)
  std::map<std::pair<std::string, std::string>, std::pair<uint64_t, double>> phases;  // (plugin, phase): n, s
  std::map<std::string, uint64_t> storeRequests, casConflicts;                          // by plugin
  std::map<std::string, NetFigures> networks;
  std::map<std::string, double> nftRules;  // "family table"
};

HostFigures summarize(const std::vector<metrics::TextSample>& samples);

}  // namespace ovl::ctl
