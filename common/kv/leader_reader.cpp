#include "kv/leader_reader.hpp"

#include "util/log.hpp"

namespace ovl::kv {

Result<std::unique_ptr<LeaderReader>> LeaderReader::start(ConsulConfig cfg) {
  auto client = TRY(ConsulClient::create(cfg));
  std::unique_ptr<LeaderReader> r(new LeaderReader(cfg));
  r->route_ = std::move(cfg);
  r->idle_.push_back(std::make_unique<ConsulClient>(std::move(client)));
  r->thread_ = std::thread([p = r.get()] { p->keepRouted(); });
  return r;
}

LeaderReader::~LeaderReader() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cancel_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

ConsulConfig LeaderReader::route() const {
  std::lock_guard lk(mu_);
  return route_;
}

std::string LeaderReader::first() const { return route().addresses.front(); }

bool LeaderReader::waitAsked(std::chrono::milliseconds timeout) const {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] { return asked_ > 0; });
}

void LeaderReader::keepRouted() {
  // The questions have a client of their own (a client serves one thread), on the route in use.
  std::optional<ConsulClient> asker;
  for (;;) {
    ConsulConfig inUse = route();
    if (!asker || asker->config().addresses != inUse.addresses) {
      auto c = ConsulClient::create(inUse);
      if (c) asker.emplace(std::move(*c));
    }
    if (asker) {
      auto leader = asker->leader(&cancel_);
      ConsulConfig routed = cfg_;
      if (!leader) {
        if (!cancel_) log::debug("consul: asking who leads: " + leader.error().msg + "; reading by the route in use");
        routed = inUse;
      } else if (!putLeaderFirst(routed, *leader)) {
        log::debug("consul: the leader (" + (leader->empty() ? std::string("none") : *leader) +
                   ") has no address in the list; reading in the list's order");
      }
      if (routed.addresses != inUse.addresses) {
        log::debug("consul: reads that must be the leader's go to " + routed.addresses.front() + " first");
        std::lock_guard lk(mu_);
        route_ = std::move(routed);
        idle_.clear();  // a read under way finishes on its old client, which is then dropped
      }
    }
    std::unique_lock lk(mu_);
    ++asked_;
    used_ = false;
    cv_.notify_all();
    // Again kRouteFor later once a read came since (an idle reader asks nothing: a daemon on each of 1,000
    // hosts asking every 10 s would be 100 questions a second), or at once after a failed read.
    cv_.wait_for(lk, kRouteFor, [&] { return stop_ || again_; });
    cv_.wait(lk, [&] { return stop_ || again_ || used_; });
    if (stop_) return;
    again_ = false;
  }
}

Result<std::vector<ConsulClient::Watch>> LeaderReader::readTrees(const std::vector<std::string>& prefixes,
                                                                 const std::atomic<bool>* cancel) {
  std::unique_ptr<ConsulClient> client;
  ConsulConfig route;
  {
    std::lock_guard lk(mu_);
    if (!idle_.empty()) client = std::move(idle_.back()), idle_.pop_back();
    else route = route_;
    if (!used_) used_ = true, cv_.notify_all();
  }
  if (!client) client = std::make_unique<ConsulClient>(TRY(ConsulClient::create(std::move(route))));
  auto r = client->readTrees(prefixes, cancel);
  std::lock_guard lk(mu_);
  if (!r) {  // the leader may have changed: ask again now, for the next read
    again_ = true;
    cv_.notify_all();
  }
  if (client->config().addresses == route_.addresses && idle_.size() < kIdle) idle_.push_back(std::move(client));
  return r;
}

}  // namespace ovl::kv
