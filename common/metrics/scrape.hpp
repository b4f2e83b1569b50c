// The client side of the metrics endpoint, for overlayctl top: fetch a /metrics page and read the
// Prometheus text format back into samples.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/listen_addr.hpp"
#include "util/error.hpp"

namespace ovl::metrics {

struct TextSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// GET http://at/metrics (HTTP/1.0), the body; bounded in time and size (4 MiB).
Result<std::string> fetchMetrics(const ListenAddr& at, int timeoutMs);

// Comment lines are skipped; a malformed line is a decode error naming its number.
Result<std::vector<TextSample>> parseText(std::string_view text);

}  // namespace ovl::metrics
