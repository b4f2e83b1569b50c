// Reads that must be the leader's (a watcher answering an ARP report for a container added a moment ago),
// sent to the leader's own address. A read sent to a follower is forwarded to the leader and its answer
// encoded twice, and the follower a host's daemons talk to is the busiest server: it serves their blocking
// queries. Measured at 50 hosts (docs/scale.md 4o): such reads took 399 ms at the median and up to 2 s
// through the follower, 4 ms (p99 289 ms) sent to the leader; first contacts then took 27 ms instead of
// 56 ms (p50), 241 instead of 589 ms (p99).
//
// Which server leads comes from /v1/status/leader, asked through the configured list (kv::putLeaderFirst): only an
// address of that list is ever used, so neither a server's answer nor anything else can send the read elsewhere. A
// thread of its own asks at start, kRouteFor after the last question if a read came since (an idle reader asks
// nothing), and at once after a read that failed, so that no read waits for the question: asked of the busiest
// server, the first one took up to 265 ms at 50 hosts, in three of the eight slowest first contacts of a trace
// (docs/scale.md 4p). A read before the first answer, or while a new route is asked for, goes by the route in use; a
// server that no longer leads still forwards it, so an old route costs time, never a wrong answer. No match (host
// names, an agent in front of the servers): the list's order, as every other request.
//
// Any number of threads may read at once (the watcher's answerer and its loop): each read takes an idle client
// of the route in use, or makes one; clients of an old route are dropped.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kv/consul.hpp"
#include "kv/consul_config.hpp"
#include "util/error.hpp"

namespace ovl::kv {

class LeaderReader {
 public:
  static constexpr std::chrono::seconds kRouteFor{10};
  using Clock = std::chrono::steady_clock;

  // Validates the configuration (Code::InvalidConfig) and starts asking who leads, in the background.
  static Result<std::unique_ptr<LeaderReader>> start(ConsulConfig cfg);
  ~LeaderReader();  // stops the thread (a question under way is cancelled)
  LeaderReader(const LeaderReader&) = delete;
  LeaderReader& operator=(const LeaderReader&) = delete;

  // ConsulClient::readTrees, from the leader's address once it is known. Any thread.
  Result<std::vector<ConsulClient::Watch>> readTrees(const std::vector<std::string>& prefixes,
                                                     const std::atomic<bool>* cancel = nullptr);
  // The address asked first now (the leader's once routed).
  std::string first() const;
  // Waits until who leads was asked at least once (answered or not), at most `timeout`. true: it was.
  bool waitAsked(std::chrono::milliseconds timeout) const;

 private:
  explicit LeaderReader(ConsulConfig cfg) : cfg_(std::move(cfg)) {}
  static constexpr size_t kIdle = 4;  // clients kept for reads to come (a connection each)
  void keepRouted();  // the thread
  ConsulConfig route() const;

  const ConsulConfig cfg_;  // as configured
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  ConsulConfig route_;                                // reads go by it: the leader's address first once known
  std::vector<std::unique_ptr<ConsulClient>> idle_;  // on route_, for the next reads
  bool stop_ = false, again_ = false;     // again_: a read failed, ask now
  bool used_ = false;                     // a read came since the last question
  uint64_t asked_ = 0;                    // questions done
  std::atomic<bool> cancel_{false};
  std::thread thread_;
};

}  // namespace ovl::kv
