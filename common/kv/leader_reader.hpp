// Reads that must be the leader's (a watcher answering an ARP report for a container added a moment ago),
// sent to the leader's own address. A read sent to a follower is forwarded to the leader and its answer
// encoded twice, and the follower a host's daemons talk to is the busiest server: it serves their blocking
// queries. Measured at 50 hosts (docs/scale.md 4o): such reads took 399 ms at the median and up to 2 s
// through the follower, 4 ms (p99 289 ms) sent to the leader; first contacts then took 27 ms instead of
// 56 ms (p50), 241 instead of 589 ms (p99).
//
// Which server leads comes from /v1/status/leader, asked through the configured list (kv::putLeaderFirst):
// only an address of that list is ever used, so neither a server's answer nor anything else can send the
// read elsewhere. Asked again every kRouteFor and after a read that failed; a server that no longer leads
// still forwards the read, so an old route costs time, never a wrong answer. No match (host names, an agent
// in front of the servers): the list's order, as every other request. Not thread-safe: one per thread.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "kv/consul.hpp"
#include "kv/consul_config.hpp"
#include "util/error.hpp"

namespace ovl::kv {

class LeaderReader {
 public:
  static constexpr std::chrono::seconds kRouteFor{10};
  using Clock = std::chrono::steady_clock;

  // Validates the configuration (Code::InvalidConfig); does not contact consul.
  static Result<LeaderReader> create(ConsulConfig cfg);

  // ConsulClient::readTrees, from the leader's address when it is known.
  Result<std::vector<ConsulClient::Watch>> readTrees(const std::vector<std::string>& prefixes,
                                                     const std::atomic<bool>* cancel = nullptr);
  // The address asked first now (the leader's once routed).
  const std::string& first() const { return client_->config().addresses.front(); }

 private:
  explicit LeaderReader(ConsulConfig cfg, ConsulClient client) : cfg_(std::move(cfg)), client_(std::move(client)) {}
  void route();  // best effort: on failure the list's order stays

  ConsulConfig cfg_;                    // as configured
  std::optional<ConsulClient> client_;  // with the leader's address first, when known
  std::optional<Clock::time_point> routedAt_;
};

}  // namespace ovl::kv
