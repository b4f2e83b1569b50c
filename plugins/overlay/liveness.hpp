// The watcher's liveness claim: a Consul session (TTL kTtlSeconds, no health checks) holding
// P/alive/<host>. While `overlay watch` runs the key exists; when it stops, or its host dies, Consul deletes
// the key within the TTL (up to twice it). `overlayctl hosts` shows it, and `overlayctl hosts evict` refuses
// to remove a host whose key exists.
#pragma once

#include <ctime>
#include <string>

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

}  // namespace ovl::overlay
