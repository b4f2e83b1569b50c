#include "metrics/exposition.hpp"

#include <charconv>

namespace ovl::metrics {
namespace {

// The shortest text that reads back as `v` (0.0025, not 0.0025000000000000001).
std::string number(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

std::string outcome(const Slot& s) { return s.code == 0 ? "ok" : "error"; }

Labels callLabels(const Slot& s) {
  return {{"plugin", std::string(s.pluginName())},
          {"verb", std::string(s.seriesName())},
          {"outcome", outcome(s)},
          {"code", std::to_string(s.code)}};
}

std::vector<const Slot*> ofKind(const Contents& c, Kind k, std::string_view name = {}) {
  std::vector<const Slot*> out;
  for (const auto& s : c.slots)
    if (s.kind == k && (name.empty() || s.seriesName() == name)) out.push_back(&s);
  return out;
}

}  // namespace

std::string escapeLabel(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void Exposition::header(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP " + std::string(name) + " " + std::string(help) + "\n";
  out_ += "# TYPE " + std::string(name) + " " + std::string(type) + "\n";
}

void Exposition::line(std::string_view name, const Labels& labels, double value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    for (size_t i = 0; i < labels.size(); ++i)
      out_ += (i ? "," : "") + labels[i].first + "=\"" + escapeLabel(labels[i].second) + "\"";
    out_ += '}';
  }
  out_ += " " + number(value) + "\n";
}

void Exposition::family(std::string_view name, std::string_view type, std::string_view help,
                        const std::vector<GaugeSample>& samples) {
  if (samples.empty()) return;
  header(name, type, help);
  for (const auto& s : samples) line(name, s.labels, s.value);
}

void Exposition::histogram(std::string_view name, const Labels& labels, const Slot& s) {
  const std::string n(name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    cumulative += s.buckets[i];
    Labels l = labels;
    l.emplace_back("le", i < kBounds.size() ? number(kBounds[i]) : "+Inf");
    line(n + "_bucket", l, double(cumulative));
  }
  line(n + "_sum", labels, double(s.sumNs) / 1e9);
  line(n + "_count", labels, double(s.count));
}

void Exposition::calls(const Contents& c) {
  auto calls = ofKind(c, Kind::Call);
  std::vector<GaugeSample> counts;
  for (const auto* s : calls) counts.push_back({callLabels(*s), double(s->count)});
  family("overlay_cni_plugin_calls_total", "counter",
         "CNI calls handled by the plugins on this host, by plugin, verb and outcome (code: CNI error code, 0 ok).",
         counts);
  if (!calls.empty()) {
    header("overlay_cni_plugin_call_duration_seconds", "histogram", "Time from a plugin's start of a call to its result.");
    for (const auto* s : calls) histogram("overlay_cni_plugin_call_duration_seconds", callLabels(*s), *s);
  }
  auto phases = ofKind(c, Kind::Phase);
  if (!phases.empty()) {
    header("overlay_cni_plugin_phase_duration_seconds", "histogram",
           "Time one call spent in a phase (ipam: the IPAM plugin's call, exec'd or in-process; store: Consul requests; nftables; netlink).");
    for (const auto* s : phases)
      histogram("overlay_cni_plugin_phase_duration_seconds",
                {{"plugin", std::string(s->pluginName())}, {"phase", std::string(s->seriesName())}}, *s);
  }
  auto counter = [&](std::string_view series, std::string_view name, std::string_view help) {
    std::vector<GaugeSample> v;
    for (const auto* s : ofKind(c, Kind::Counter, series))
      v.push_back({{{"plugin", std::string(s->pluginName())}}, double(s->count)});
    family(name, "counter", help, v);
  };
  counter("store_requests", "overlay_cni_plugin_store_requests_total", "Consul requests made by the plugins' calls.");
  counter("cas_conflicts", "overlay_cni_plugin_store_cas_conflicts_total",
          "Check-and-set writes of the plugins that lost a race and were retried.");
  family("overlay_cni_plugin_metrics_dropped_total", "counter",
         "Plugin samples not recorded because the host's metrics file had no free series slot.",
         {{{}, double(c.dropped)}});
}

}  // namespace ovl::metrics
