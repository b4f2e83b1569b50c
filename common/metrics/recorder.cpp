#include "metrics/recorder.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

#include "kv/node_config.hpp"
#include "metrics/call_file.hpp"
#include "metrics/tally.hpp"
#include "model/memory.hpp"
#include "util/log.hpp"
#include "util/unique_fd.hpp"

namespace ovl::metrics {
namespace {

std::vector<Sample> samplesOf(const cni::CallReport& r) {
  std::vector<Sample> out;
  out.push_back({Kind::Call, r.plugin, r.verb, r.code, 1, uint64_t(r.elapsed.count())});
  const auto& t = tally();
  for (size_t i = 0; i < kPhases; ++i)
    if (t.entered[i].load(std::memory_order_relaxed))
      out.push_back({Kind::Phase, r.plugin, phaseName(Phase(i)), 0, 1, uint64_t(t.spentNs[i].load())});
  if (auto n = t.storeRequests.load()) out.push_back({Kind::Counter, r.plugin, "store_requests", 0, n, 0});
  if (auto n = t.casConflicts.load()) out.push_back({Kind::Counter, r.plugin, "cas_conflicts", 0, n, 0});
  return out;
}

Result<void> record(const cni::CallReport& r) {
  auto node = TRY(kv::loadNodeConfig());
  const std::string stateDir = node.stateDir && !node.stateDir->empty() ? *node.stateDir : kv::kDefaultStateDir;
  return addToFile(TRY(hostMetricsFile(stateDir)), samplesOf(r));
}

// OVL_CALL_REPORT=<file>: one JSON line per call with its phases, appended (scripts/bench.sh's breakdown).
void reportLine(const cni::CallReport& r) {
  const char* path = std::getenv("OVL_CALL_REPORT");
  if (!path || !*path) return;
  const auto& t = tally();
  std::string line = "{\"plugin\":\"" + std::string(r.plugin) + "\",\"verb\":\"" + std::string(r.verb) +
                     "\",\"code\":" + std::to_string(r.code) + ",\"elapsedNs\":" + std::to_string(r.elapsed.count()) +
                     ",\"storeRequests\":" + std::to_string(t.storeRequests.load());
  for (size_t i = 0; i < kPhases; ++i)
    line += ",\"" + std::string(phaseName(Phase(i))) + "Ns\":" + std::to_string(t.spentNs[i].load());
  line += "}\n";
  UniqueFd fd(::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (fd) (void)!::write(fd.get(), line.data(), line.size());  // one write: lines of concurrent calls stay whole
}

}  // namespace

Result<std::string> hostMetricsFile(const std::string& stateDir) {
  return TRY(model::hostStateDir(stateDir)) + "/metrics.bin";
}

void recordCall(const cni::CallReport& r) {
  reportLine(r);
  if (auto res = record(r); !res) log::debug("recording the call's metrics: " + res.error().msg + ", ignoring");
}

cni::Plugin recorded(cni::Plugin p) {
  p.report = recordCall;
  return p;
}

}  // namespace ovl::metrics
