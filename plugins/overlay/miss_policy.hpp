// When `overlay watch` reads the store for addresses its VXLAN devices reported missing (vxlan/misses.hpp): a
// report means a local container asked for an address the bridge could not answer, and its request was
// consumed, not flooded. The watcher reads that network's attachments from the leader, installs what it
// finds and announces the address (or learns that the store has no such container). Pure, for unit tests.
//
// A container can report any address of its network, as fast as it can send ARP: a scan would otherwise be a
// leader read per address. So, per host: a network's pending addresses share one read, a network's reads
// come `networkBurst` at once (containers that start together meet each other's first contacts) and then one
// every `networkGap`, and at most `perSecond` reads in any second; an address the store did not have is not
// read for again for `unknownFor`; at most `pending` addresses wait per network and `unknowns` are remembered.
// Per asker (the ARP sender's MAC): `askerBurst` reports, then `askerRate` a second; the others' reports
// are not counted against it. What that leaves a hostile container: delaying its own network's answers by up
// to networkGap once it spent the burst; with forged sender MACs (a raw socket), the network's reads on this host (bounded above).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "util/ip.hpp"

namespace ovl::overlay {

class MissPolicy {
 public:
  using Clock = std::chrono::steady_clock;
  struct Limits {
    std::chrono::milliseconds networkGap{100};
    int networkBurst = 3;
    size_t perSecond = 20;
    std::chrono::milliseconds unknownFor{1000};
    size_t pending = 256;
    size_t unknowns = 4096;
    double askerRate = 10, askerBurst = 20;
    size_t askers = 4096;
  };
  MissPolicy() = default;
  explicit MissPolicy(Limits l) : limits_(l) {}

  // A report for `ip` on `net`: false when it waits for no read (the address is known to be unknown, or the
  // network's pending list is full).
  bool missed(const std::string& net, const IpAddr& ip, Clock::time_point now) {
    if (auto it = unknown_.find({net, ip}); it != unknown_.end()) {
      if (now < it->second) return false;
      unknown_.erase(it);
    }
    Net& n = nets_[net];
    if (n.pending.size() >= limits_.pending && !n.pending.count(ip)) return false;
    if (n.pending.empty()) n.since = now;
    n.pending.insert(ip);
    return true;
  }

  // A report from `asker`: false when the asker has used its budget (the report is dropped). Askers
  // beyond `askers` share no budget: they meet the network's limits only.
  bool asked(const MacAddr& asker, Clock::time_point now) {
    auto it = askers_.find(asker);
    if (it == askers_.end()) {
      if (askers_.size() >= limits_.askers)
        std::erase_if(askers_, [&](const auto& kv) { return tokens(kv.second, now) >= limits_.askerBurst; });
      if (askers_.size() >= limits_.askers) return true;
      it = askers_.emplace(asker, Bucket{limits_.askerBurst, now}).first;
    }
    Bucket& b = it->second;
    b.tokens = tokens(b, now), b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  // The networks to read now, the longest waiting first, with their pending addresses (taken).
  std::vector<std::pair<std::string, std::set<IpAddr>>> due(Clock::time_point now) {
    expireWindow(now);
    std::vector<std::pair<Clock::time_point, std::string>> ready;
    for (const auto& [net, n] : nets_)
      if (!n.pending.empty() && readyAt(n) <= now) ready.push_back({n.since, net});
    std::sort(ready.begin(), ready.end());
    std::vector<std::pair<std::string, std::set<IpAddr>>> out;
    for (const auto& [since, net] : ready) {
      if (window_.size() >= limits_.perSecond) break;
      Net& n = nets_[net];
      n.tat = std::max(n.tat, now) + limits_.networkGap;
      window_.push_back(now);
      out.push_back({net, std::exchange(n.pending, {})});
    }
    return out;
  }

  // When due() next has something (nullopt: nothing waits).
  std::optional<Clock::time_point> nextDue() const {
    std::optional<Clock::time_point> at;
    for (const auto& [net, n] : nets_)
      if (!n.pending.empty()) at = at ? std::min(*at, readyAt(n)) : readyAt(n);
    if (at && window_.size() >= limits_.perSecond) at = std::max(*at, window_.front() + std::chrono::seconds(1));
    return at;
  }

  // The store, read at `now`, had no remote container at `ip` on `net`.
  void unknown(const std::string& net, const IpAddr& ip, Clock::time_point now) {
    if (unknown_.size() >= limits_.unknowns)
      std::erase_if(unknown_, [&](const auto& kv) { return kv.second <= now; });
    if (unknown_.size() >= limits_.unknowns) return;  // all recent: this one may be read for again
    unknown_[{net, ip}] = now + limits_.unknownFor;
  }

  // A read at most unknownFor ago did not find `ip` on `net`.
  bool knownAbsent(const std::string& net, const IpAddr& ip, Clock::time_point now) const {
    auto it = unknown_.find({net, ip});
    return it != unknown_.end() && now < it->second;
  }

  // The addresses of `net` asked for and not found (however long ago, until found() or pushed out by newer
  // ones): when the feed brings one, its asker may still be waiting.
  std::set<IpAddr> awaited(const std::string& net) const {
    std::set<IpAddr> out;
    for (auto it = unknown_.lower_bound({net, IpAddr()}); it != unknown_.end() && it->first.first == net; ++it)
      out.insert(it->first.second);
    return out;
  }
  void found(const std::string& net, const IpAddr& ip) { unknown_.erase({net, ip}); }

  // The network left this host.
  void forget(const std::string& net) {
    nets_.erase(net);
    std::erase_if(unknown_, [&](const auto& kv) { return kv.first.first == net; });
  }

  size_t pending() const {
    size_t n = 0;
    for (const auto& [_, x] : nets_) n += x.pending.size();
    return n;
  }
  size_t unknowns() const { return unknown_.size(); }
  size_t askers() const { return askers_.size(); }

 private:
  struct Net {
    std::set<IpAddr> pending;
    // The network's reads as a GCRA: `tat` runs a gap ahead per read, and a read may be that far ahead of
    // the clock by networkBurst - 1 gaps (the epoch: never read).
    Clock::time_point since{}, tat{};
  };
  struct Bucket {
    double tokens;
    Clock::time_point at;
  };
  double tokens(const Bucket& b, Clock::time_point now) const {
    const double s = std::chrono::duration<double>(now - b.at).count();
    return std::min(limits_.askerBurst, b.tokens + std::max(0.0, s) * limits_.askerRate);
  }
  Clock::time_point readyAt(const Net& n) const {
    if (n.tat == Clock::time_point{}) return n.since;
    return std::max(n.since, n.tat - std::max(0, limits_.networkBurst - 1) * limits_.networkGap);
  }
  void expireWindow(Clock::time_point now) {
    while (!window_.empty() && window_.front() + std::chrono::seconds(1) <= now) window_.pop_front();
  }

  Limits limits_;
  std::map<std::string, Net> nets_;
  std::map<std::pair<std::string, IpAddr>, Clock::time_point> unknown_;  // until when
  std::deque<Clock::time_point> window_;                                  // reads of the last second
  std::map<MacAddr, Bucket> askers_;
};

}  // namespace ovl::overlay
