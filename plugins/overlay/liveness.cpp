#include "overlay/liveness.hpp"

#include "model/keys.hpp"
#include "util/log.hpp"

namespace ovl::overlay {

void Liveness::keep(kv::ConsulClient& kv, const model::Host& self) {
  const std::time_t now = std::time(nullptr);
  if (!session_.empty() && now - renewed_ < kRenewSeconds) return;
  if (!session_.empty()) {
    auto renewed = kv.renewSession(session_);
    if (!renewed) {
      log::warn("liveness: " + renewed.error().msg);
      return;
    }
    if (*renewed) {
      renewed_ = now;
      return;
    }
    session_.clear();  // expired, or the store forgot it: start again
  }
  auto id = kv.createSession("overlay-watch " + self.host, kTtlSeconds);
  if (!id) {
    log::warn("liveness: " + id.error().msg);
    return;
  }
  session_ = *id;
  renewed_ = now;
  auto held = kv.acquire(model::Keys(kv.key("")).alive(self.host), model::toJson(self), session_);
  if (!held) {
    log::warn("liveness: " + held.error().msg);
  } else if (!*held && !warnedHeld_) {
    log::error("liveness: another running watcher holds the name '" + self.host + "'");
    warnedHeld_ = true;
  }
}

void Liveness::release(kv::ConsulClient& kv) {
  if (session_.empty()) return;
  if (auto r = kv.destroySession(session_); !r) log::warn("liveness: " + r.error().msg);
  session_.clear();
}

Result<std::unique_ptr<LivenessKeeper>> LivenessKeeper::start(const kv::ConsulConfig& cfg) {
  std::unique_ptr<LivenessKeeper> k(new LivenessKeeper(TRY(kv::ConsulClient::create(cfg))));
  k->thread_ = std::thread([p = k.get()] { p->run(); });
  return k;
}

LivenessKeeper::~LivenessKeeper() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LivenessKeeper::hold(const model::Host& self) {
  std::lock_guard lk(mu_);
  if (self_ && self_->host == self.host && self_->vtep == self.vtep && self_->machineId == self.machineId) return;
  self_ = self;
  fresh_ = true;
  cv_.notify_all();
}

void LivenessKeeper::run() {
  for (;;) {
    std::optional<model::Host> self;
    {
      std::unique_lock lk(mu_);
      // Every second: keep() sends a request only when the renewal is due (or the session must be made).
      cv_.wait_for(lk, std::chrono::seconds(1), [&] { return stop_ || fresh_; });
      if (stop_) break;
      fresh_ = false;
      self = self_;
    }
    if (self) liveness_.keep(client_, *self);
  }
  liveness_.release(client_);
}

}  // namespace ovl::overlay
