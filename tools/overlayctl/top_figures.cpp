#include "overlayctl/top_figures.hpp"

#include <string_view>

namespace ovl::ctl {
namespace {

std::string label(const metrics::TextSample& s, const std::string& k) {
  auto it = s.labels.find(k);
  return it == s.labels.end() ? std::string() : it->second;
}

// The per-network gauges and the figure each becomes.
constexpr std::pair<std::string_view, std::string_view> kNetGauges[] = {
    {"overlay_cni_network_members", "members"},
    {"overlay_cni_network_flood_entries", "floodEntries"},
    {"overlay_cni_network_fdb_entries", "fdbEntries"},
    {"overlay_cni_network_neighbour_entries", "neighbourEntries"},
    {"overlay_cni_ipam_pool_addresses", "poolAddresses"},
    {"overlay_cni_ipam_pool_addresses_in_use", "poolInUse"},
};

}  // namespace

uint64_t CallFigures::total() const {
  uint64_t n = ok;
  for (const auto& [code, c] : errors) n += c;
  return n;
}

HostFigures summarize(const std::vector<metrics::TextSample>& samples) {
  HostFigures h;
  for (const auto& s : samples) {
    const std::string plugin = label(s, "plugin");
    if (s.name == "overlay_cni_plugin_calls_total") {
      auto& c = h.calls[{plugin, label(s, "verb")}];
      const int code = std::atoi(label(s, "code").c_str());
      if (code == 0) c.ok += uint64_t(s.value);
      else c.errors[code] += uint64_t(s.value);
    } else if (s.name == "overlay_cni_plugin_call_duration_seconds_sum") {
      h.calls[{plugin, label(s, "verb")}].seconds += s.value;
    } else if (s.name == "overlay_cni_plugin_phase_duration_seconds_count") {
      h.phases[{plugin, label(s, "phase")}].first += uint64_t(s.value);
    } else if (s.name == "overlay_cni_plugin_phase_duration_seconds_sum") {
      h.phases[{plugin, label(s, "phase")}].second += s.value;
    } else if (s.name == "overlay_cni_plugin_store_requests_total") {
      h.storeRequests[plugin] += uint64_t(s.value);
    } else if (s.name == "overlay_cni_plugin_store_cas_conflicts_total") {
      h.casConflicts[plugin] += uint64_t(s.value);
    } else if (s.name == "overlay_cni_nftables_rules") {
      h.nftRules[label(s, "family") + " " + label(s, "table")] = s.value;
    } else {
      for (const auto& [metric, figure] : kNetGauges)
        if (s.name == metric) h.networks[label(s, "network")].values[std::string(figure)] = s.value;
    }
  }
  return h;
}

}  // namespace ovl::ctl
