// The watcher's liveness claim: a Consul session (TTL kTtlSeconds, no health checks) holding
// P/alive/<host>. While `overlay watch` runs the key exists; when it stops, or its host dies, Consul deletes
// the key within the TTL (up to twice it). `overlayctl hosts` shows it, and `overlayctl hosts evict` refuses
// to remove a host whose key exists.
#pragma once

#include <condition_variable>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "kv/consul.hpp"
#include "model/records.hpp"

namespace ovl::overlay {

class Liveness {
 public:
  static constexpr int kTtlSeconds = 30;
  static constexpr int kRenewSeconds = 10;

  // Creates, renews or re-creates the session as due, and holds the key. Failures are logged, not fatal.
  void keep(kv::ConsulClient& kv, const model::Host& self);
  // Destroys the session (the key goes at once). Best effort.
  void release(kv::ConsulClient& kv);

 private:
  std::string session_;
  std::time_t renewed_ = 0;
  bool warnedHeld_ = false;
};

// A Liveness kept on a thread of its own, with a client of its own: a renewal under way never holds back the
// watcher's loop. (On the loop, at 50 hosts, renewals sent to the server the feeds keep busy took 490 ms at
// the median and up to 1.8 s, each one a wait of every change and join behind it: docs/scale.md 4q.)
class LivenessKeeper {
 public:
  // Validates the configuration (Code::InvalidConfig); holds nothing until hold().
  static Result<std::unique_ptr<LivenessKeeper>> start(const kv::ConsulConfig& cfg);
  ~LivenessKeeper();  // stops the thread, then releases the claim (the key goes at once)
  LivenessKeeper(const LivenessKeeper&) = delete;
  LivenessKeeper& operator=(const LivenessKeeper&) = delete;

  // The record the key is held with (cheap: the thread acts on a new one at once, then renews as due).
  void hold(const model::Host& self);

 private:
  explicit LivenessKeeper(kv::ConsulClient client) : client_(std::move(client)) {}
  void run();

  kv::ConsulClient client_;  // the thread's only
  Liveness liveness_;        // the thread's only
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<model::Host> self_;
  bool fresh_ = false, stop_ = false;  // fresh_: self_ changed since the thread last looked
  std::thread thread_;
};

}  // namespace ovl::overlay
