#include "metrics/recorder.hpp"

#include "kv/node_config.hpp"
#include "metrics/call_file.hpp"
#include "metrics/tally.hpp"
#include "model/memory.hpp"
#include "util/log.hpp"

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

}  // namespace

Result<std::string> hostMetricsFile(const std::string& stateDir) {
  return TRY(model::hostStateDir(stateDir)) + "/metrics.bin";
}

void recordCall(const cni::CallReport& r) {
  if (auto res = record(r); !res) log::debug("recording the call's metrics: " + res.error().msg + ", ignoring");
}

cni::Plugin recorded(cni::Plugin p) {
  p.report = recordCall;
  return p;
}

}  // namespace ovl::metrics
