#include "kv/leader_reader.hpp"

#include "util/log.hpp"

namespace ovl::kv {

Result<std::unique_ptr<LeaderReader>> LeaderReader::start(ConsulConfig cfg) {
  auto client = TRY(ConsulClient::create(cfg));
  std::unique_ptr<LeaderReader> r(new LeaderReader(std::move(cfg)));
  r->client_ = std::make_shared<ConsulClient>(std::move(client));
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

std::shared_ptr<ConsulClient> LeaderReader::current() const {
  std::lock_guard lk(mu_);
  return client_;
}

std::string LeaderReader::first() const { return current()->config().addresses.front(); }

bool LeaderReader::waitAsked(std::chrono::milliseconds timeout) const {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] { return asked_ > 0; });
}

void LeaderReader::keepRouted() {
  // The questions have a client of their own (a client serves one thread), on the route in use.
  std::optional<ConsulClient> asker;
  for (;;) {
    ConsulConfig inUse = current()->config();
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
        if (auto c = ConsulClient::create(std::move(routed))) {
          auto next = std::make_shared<ConsulClient>(std::move(*c));
          log::debug("consul: reads that must be the leader's go to " + next->config().addresses.front() + " first");
          std::lock_guard lk(mu_);
          client_ = std::move(next);  // a read under way finishes on the old one
        }
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
  std::shared_ptr<ConsulClient> client;
  {
    std::lock_guard lk(mu_);
    client = client_;
    if (!used_) used_ = true, cv_.notify_all();
  }
  auto r = client->readTrees(prefixes, cancel);
  if (!r) {  // the leader may have changed: ask again now, for the next read
    std::lock_guard lk(mu_);
    again_ = true;
    cv_.notify_all();
  }
  return r;
}

}  // namespace ovl::kv
