// Prometheus text exposition format 0.0.4: families with HELP and TYPE, escaped label values, histograms
// with cumulative buckets, _sum and _count.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/call_file.hpp"

namespace ovl::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

struct GaugeSample {
  Labels labels;
  double value = 0;
};

class Exposition {
 public:
  // A gauge or counter family (type "gauge" or "counter"); a family without samples is left out.
  void family(std::string_view name, std::string_view type, std::string_view help,
              const std::vector<GaugeSample>& samples);
  // The plugins' calls, phases and counters from the host's metrics file.
  void calls(const Contents& c);
  const std::string& text() const { return out_; }

 private:
  void header(std::string_view name, std::string_view type, std::string_view help);
  void histogram(std::string_view name, const Labels& labels, const Slot& s);
  void line(std::string_view name, const Labels& labels, double value);
  std::string out_;
};

std::string escapeLabel(std::string_view v);

}  // namespace ovl::metrics
