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

}  // namespace ovl::overlay
