#include "kv/leader_reader.hpp"

#include "util/log.hpp"

namespace ovl::kv {

Result<LeaderReader> LeaderReader::create(ConsulConfig cfg) {
  auto client = TRY(ConsulClient::create(cfg));
  return LeaderReader(std::move(cfg), std::move(client));
}

void LeaderReader::route() {
  routedAt_ = Clock::now();
  auto leader = client_->leader();  // asked of the route in use: the leader, or the list in its order
  ConsulConfig routed = cfg_;
  if (!leader) {
    log::debug("consul: asking who leads: " + leader.error().msg + "; reading in the list's order");
  } else if (!putLeaderFirst(routed, *leader)) {
    log::debug("consul: the leader (" + (leader->empty() ? std::string("none") : *leader) +
               ") has no address in the list; reading in the list's order");
  }
  if (routed.addresses == client_->config().addresses) return;  // keeps the connection
  if (auto c = ConsulClient::create(std::move(routed))) {
    client_ = std::move(*c);
    log::debug("consul: reads that must be the leader's go to " + first() + " first");
  }
}

Result<std::vector<ConsulClient::Watch>> LeaderReader::readTrees(const std::vector<std::string>& prefixes,
                                                                 const std::atomic<bool>* cancel) {
  if (!routedAt_ || Clock::now() - *routedAt_ >= kRouteFor) route();
  auto r = client_->readTrees(prefixes, cancel);
  if (!r) routedAt_.reset();  // ask again before the next read: the leader may have changed
  return r;
}

}  // namespace ovl::kv
