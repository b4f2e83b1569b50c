#include "overlay/miss_answerer.hpp"

#include <algorithm>
#include <utility>

#include "model/cluster.hpp"
#include "nl/garp.hpp"
#include "util/log.hpp"

namespace ovl::overlay {

void mergeInstalls(const std::vector<detail::AnswererInstall>& installs, uint64_t listing,
                   std::vector<vxlan::Peer>& before, std::vector<vxlan::Peer>& after, const std::set<IpAddr>* known) {
  auto put = [](std::vector<vxlan::Peer>& peers, const vxlan::Peer& p) {
    std::erase_if(peers, [&](const vxlan::Peer& q) { return q.ip == p.ip; });
    peers.push_back(p);
  };
  for (const auto& i : installs) {
    put(before, i.peer);
    if (listing == 0 || i.index > listing || (known && !known->count(i.peer.vtep))) put(after, i.peer);
  }
}

Result<std::unique_ptr<MissAnswerer>> MissAnswerer::start(Config cfg, const model::Cluster& cluster,
                                                          std::shared_ptr<MissFigures> figures) {
  std::unique_ptr<MissAnswerer> a(new MissAnswerer());
  a->cfg_ = std::move(cfg);
  a->policy_ = MissPolicy(a->cfg_.limits);
  a->cluster_ = &cluster;
  a->figures_ = std::move(figures);
  a->sock_ = TRY(nl::Socket::open());
  a->announcer_ = TRY(vxlan::Announcer::open());
  a->floodSocket_ = TRY(nl::openArpSocket());
  a->allow_ = TRY(vxlan::AllowList::open());
  a->thread_ = std::thread([p = a.get()] { p->run(); });  // in this thread's namespace, like the sockets
  a->reader_ = std::thread([p = a.get()] { p->readAll(); });
  return a;
}

MissAnswerer::~MissAnswerer() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  stopping_ = true;  // a read under way gives up
  cv_.notify_all();
  readerCv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (reader_.joinable()) reader_.join();
}

void MissAnswerer::notify() {
  {
    std::lock_guard lk(mu_);
    notified_ = true;
  }
  cv_.notify_all();
}

void MissAnswerer::setLatest(Latest latest) {
  std::lock_guard lk(latestMu_);
  latest_ = std::move(latest);
}

void MissAnswerer::changed(const std::string& prefix) {
  {
    std::lock_guard lk(mu_);
    changedPrefixes_.insert(prefix);
  }
  cv_.notify_all();
}

void MissAnswerer::publish(std::map<std::string, View> views) {
  std::lock_guard lk(mu_);
  auto same = [](const std::map<std::string, View>& a, const std::map<std::string, View>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
      return x.first == y.first && x.second.vni == y.second.vni && x.second.vtepOf == y.second.vtepOf &&
             x.second.dev.bridge.index == y.second.dev.bridge.index && x.second.dev.vxlan.index == y.second.dev.vxlan.index;
    });
  };
  if (same(views_, views)) return;
  views_ = std::move(views);
  viewsChanged_ = true;  // a host that joined: what was handed off may be answered now (no wake: not urgent)
}

void MissAnswerer::resolved(const std::string& net, const std::set<IpAddr>& ips) {
  if (ips.empty()) return;
  std::lock_guard lk(mu_);
  resolved_[net].insert(ips.begin(), ips.end());
}

std::set<vxlan::Miss> MissAnswerer::handedOff() {
  std::lock_guard lk(mu_);
  return std::exchange(handed_, {});
}

std::vector<MissAnswerer::Install> MissAnswerer::takeInstalled(const std::string& net) {
  std::lock_guard lk(mu_);
  auto it = installed_.find(net);
  if (it == installed_.end()) return {};
  auto out = std::move(it->second);
  installed_.erase(it);
  return out;
}

void MissAnswerer::handOff(const vxlan::Miss& m) {
  handing_ = true;
  std::lock_guard lk(mu_);
  handed_.insert(m);
}

void MissAnswerer::run() {
  using Clock = MissPolicy::Clock;
  for (;;) {
    std::map<std::string, View> views;
    std::set<std::string> moved;
    std::deque<Read> done;
    std::map<std::string, std::set<IpAddr>> answered;
    bool viewsChanged = false;
    {
      std::unique_lock lk(mu_);
      std::optional<Clock::time_point> next = policy_.nextDue();
      auto sooner = [&](Clock::time_point t) { next = next ? std::min(*next, t) : t; };
      for (const auto& [net, w] : waiting_)
        for (const auto& [ip, a] : w.asked) {
          sooner(a.until);
          if (cfg_.floodAfter.count() && !a.flooded && !a.unknown) sooner(a.floodAt);
        }
      for (const auto& [net, at] : membersDue_) sooner(at);
      auto ready = [&] { return stop_ || notified_ || !changedPrefixes_.empty() || !readsDone_.empty(); };
      if (next) cv_.wait_until(lk, *next, ready);
      else cv_.wait(lk, ready);
      if (stop_) return;
      notified_ = false;
      moved = std::exchange(changedPrefixes_, {});
      done = std::exchange(readsDone_, {});
      answered = std::exchange(resolved_, {});
      viewsChanged = std::exchange(viewsChanged_, false);
      views = views_;
    }
    auto now = Clock::now();
    for (const auto& prefix : moved)
      if (auto net = cluster_->keys().networkOfAttachments(prefix); net && waiting_.count(*net))
        waiting_[*net].dirty = true;
    for (const auto& [net, ips] : answered)
      if (auto w = waiting_.find(net); w != waiting_.end())
        for (const auto& ip : ips) w->second.asked.erase(ip);
    if (viewsChanged) {
      for (auto& [net, w] : waiting_) w.dirty = true;
      std::erase_if(parsed_, [&](const auto& kv) { return !views.count(kv.first); });  // networks gone
    }
    for (auto& r : done) readDone(r, views, now);
    take(views, now);
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      auto& [net, w] = *it;
      auto v = views.find(net);
      if (v == views.end()) {  // the network left (or failed): the loop decides
        for (const auto& [ip, a] : w.asked) handOff(a.report);
        parsed_.erase(net), policy_.forget(net), membersReadAt_.erase(net), membersDue_.erase(net);
        it = waiting_.erase(it);
        continue;
      }
      if (w.dirty) lookInFeed(net, v->second, w);
      // What the feed does not have: the leader's listing, as soon as the policy allows.
      for (auto& [ip, a] : w.asked) {
        if (a.read || a.unknown || !cfg_.readLeader) continue;
        if (policy_.knownAbsent(net, ip, now)) a.unknown = true;  // read for a moment ago: nothing to flood for
        else if (policy_.missed(net, ip, now)) a.read = true;
      }
      ++it;
    }
    if (cfg_.readLeader) {
      bool queued = false;
      for (auto& [net, ips] : policy_.due(now)) {
        if (auto busy = reading_.find(net); busy != reading_.end()) {
          busy->second.insert(ips.begin(), ips.end());
          continue;
        }
        reading_[net];
        Read r{net, std::move(ips), {}, std::nullopt, false, now};
        if (auto w = waiting_.find(net); w != waiting_.end())
          for (const auto& ip : r.ips)
            if (auto a = w->second.asked.find(ip); a != w->second.asked.end()) r.reports.push_back(a->second.report);
        std::lock_guard lk(mu_);
        toRead_.push_back(std::move(r));
        queued = true;
      }
      if (queued) readerCv_.notify_all();
    }
    now = Clock::now();
    readMembersDue(views, now);
    floodLate(now, views);
    // Not found in time: the asker gave up or asks again.
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      std::erase_if(it->second.asked, [&](const auto& kv) { return kv.second.until <= now; });
      if (it->second.asked.empty()) it = waiting_.erase(it);
      else ++it;
    }
    if (std::exchange(handing_, false) && cfg_.handOff) cfg_.handOff();
  }
}

// The reports: each address joins its network's waiting ones (a network not synced: the loop's).
void MissAnswerer::take(const std::map<std::string, View>& views, MissPolicy::Clock::time_point now) {
  if (!cfg_.reports) return;
  for (const auto& m : cfg_.reports()) {
    auto v = std::find_if(views.begin(), views.end(), [&](const auto& kv) {
      return (m.port && kv.second.dev.vxlan.index == m.port) || (m.bridge && kv.second.dev.bridge.index == m.bridge);
    });
    if (v == views.end()) {
      log::debug("ARP report for " + m.ip.str() + ": its network is not synced yet, handed to the loop");
      handOff(m);
      continue;
    }
    log::debug("network '" + v->first + "': ARP report for " + m.ip.str());
    if (!policy_.asked(m.asker, now)) {
      ++figures_->ignored;
      continue;
    }
    Waiting& w = waiting_[v->first];
    if (w.asked.count(m.ip)) continue;
    if (w.asked.size() >= kPending) {
      ++figures_->ignored;
      continue;
    }
    w.asked.emplace(m.ip, Asked{now + cfg_.patience, now + cfg_.floodAfter, m});
    w.dirty = true;
  }
}

void MissAnswerer::lookInFeed(const std::string& net, const View& view, Waiting& w) {
  w.dirty = false;
  uint64_t index = 0;
  std::optional<std::vector<kv::KvPair>> listing;
  {
    std::lock_guard lk(latestMu_);
    if (latest_) listing = latest_(cluster_->keys().attachmentsOf(net), &index);
  }
  if (listing) look(net, view, w, *listing, index, true);
}

void MissAnswerer::readAll() {
  for (;;) {
    Read r;
    {
      std::unique_lock lk(mu_);
      readerCv_.wait(lk, [&] { return stop_ || !toRead_.empty(); });
      if (stop_) return;
      r = std::move(toRead_.front());
      toRead_.pop_front();
    }
    const auto& keys = cluster_->keys();
    const auto started = MissPolicy::Clock::now();
    std::vector<std::string> prefixes{keys.network(r.net)};
    if (!r.members) prefixes.insert(prefixes.begin(), keys.attachmentsOf(r.net));
    r.listings = cfg_.readLeader(prefixes, &stopping_);
    if (*r.listings && (*r.listings)->size() != prefixes.size())
      r.listings = fail(Code::Internal, "the leader's read returned " + std::to_string((*r.listings)->size()) +
                                            " listings for " + std::to_string(prefixes.size()) + " prefixes");
    ++figures_->reads;
    log::debug("network '" + r.net + "': read the leader's " + (r.members ? "members" : "attachments and members") + " in " +
               std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(MissPolicy::Clock::now() - started)
                                  .count()) +
               " ms");
    {
      std::lock_guard lk(mu_);
      readsDone_.push_back(std::move(r));
    }
    cv_.notify_all();
  }
}

// A leader read came back: what it has is answered; what it has not is unknown (MissPolicy rests it); what
// came due meanwhile is read for next.
void MissAnswerer::readDone(Read& r, const std::map<std::string, View>& views, MissPolicy::Clock::time_point now) {
  auto v = views.find(r.net);
  if (r.members) {
    readingMembers_.erase(r.net);
    auto w = waiting_.find(r.net);
    if (v == views.end() || w == waiting_.end()) return;
    if (*r.listings) {
      const auto& members = (*r.listings)->front();
      return join(r.net, v->second, w->second, members.pairs, members.index, false, r.queuedAt);
    }
    log::debug("network '" + r.net + "': reading the leader's members for ARP reports: " + r.listings->error().msg);
    for (auto& [ip, a] : w->second.asked)
      if (a.joining) handJoining(a);
    return;
  }
  auto later = reading_.extract(r.net);
  if (v == views.end()) return;
  // Addresses whose patience ran out meanwhile (the request was flooded) are still answered: the entry
  // spares the host's next asker the wait. They go again at the end of this round.
  auto w = waiting_.try_emplace(r.net).first;
  for (const auto& m : r.reports)
    w->second.asked.try_emplace(m.ip, Asked{now, now, m, true, false, true});
  if (!*r.listings) {
    log::debug("network '" + r.net + "': reading the leader for ARP reports: " + r.listings->error().msg);
  } else {
    const auto& attachments = (*r.listings)->front();
    look(r.net, v->second, w->second, attachments.pairs, attachments.index, false, &(*r.listings)->back(), r.queuedAt);
    for (const auto& ip : r.ips)
      if (auto a = w->second.asked.find(ip); a != w->second.asked.end() && !a->second.handed && !a->second.joining) {
        policy_.unknown(r.net, ip, now), ++figures_->unknown;
        a->second.unknown = true;
      }
  }
  if (!later.empty())
    for (const auto& ip : later.mapped())
      if (auto a = w->second.asked.find(ip); a != w->second.asked.end() && !a->second.unknown) a->second.read = false;
}

// The requests still unanswered `floodAfter` after their report go on to every member, in the asker's name
// (from the VXLAN device: the bridge's reporting rule is not on that path), once each.
void MissAnswerer::floodLate(MissPolicy::Clock::time_point now, const std::map<std::string, View>& views) {
  if (!cfg_.floodAfter.count()) return;
  for (auto& [net, w] : waiting_) {
    auto v = views.find(net);
    if (v == views.end()) continue;
    for (auto& [ip, a] : w.asked) {
      if (a.flooded || a.unknown || a.floodAt > now) continue;
      a.flooded = true;
      if (auto r = nl::sendArpRequest(floodSocket_.get(), v->second.dev.vxlan.index, a.report.asker, a.report.askerIp, ip); !r) {
        log::debug("network '" + net + "': " + r.error().msg);
        continue;
      }
      ++figures_->flooded;
    }
  }
}

// Looks the network's waiting addresses up in `listing`: installs and announces those on member hosts, drops
// those of this host (the bridge delivers the request to their port), hands off those on hosts the loop does
// not know yet, keeps the others waiting.
void MissAnswerer::look(const std::string& net, const View& view, Waiting& w, const std::vector<kv::KvPair>& listing,
                        uint64_t index, bool feed, const kv::ConsulClient::Watch* members,
                        MissPolicy::Clock::time_point leaderAt) {
  Parsed& p = parsed_[net];
  if (p.index != index || p.byKey.empty()) {
    decltype(p.byKey) now;
    for (const auto& kv : listing) {
      auto was = p.byKey.find(kv.key);
      auto& slot = now[kv.key];
      if (was != p.byKey.end() && was->second.first == kv.modifyIndex) slot = std::move(was->second);
      else slot = {kv.modifyIndex, cluster_->parseAttachments({kv})};
    }
    p.byKey = std::move(now);
    p.index = index;
  }
  std::vector<std::pair<vxlan::Peer, vxlan::Miss>> found;
  std::chrono::milliseconds waited{0};  // the longest any of them waited
  for (const auto& [key, slot] : p.byKey)
    for (const auto& a : slot.second)
      for (const auto& ip : a.ips) {
        auto n = IpNet::parse(ip, false);
        if (!n) continue;
        auto asked = w.asked.find(n->addr());
        if (asked == w.asked.end()) continue;
        auto vtep = view.vtepOf.find(a.host);
        auto mac = MacAddr::parse(a.mac);
        if (a.host == cfg_.hostName || n->addr().isV6() || !mac) {
          ++figures_->ignored;
        } else if (vtep == view.vtepOf.end()) {
          // A host that joined a moment ago: joined here once its member record is found (join()).
          if (!asked->second.handed) {
            asked->second.joining = asked->second.read = true;
            asked->second.host = a.host, asked->second.mac = *mac;
          }
          continue;
        } else {
          found.push_back({{n->addr(), *mac, vtep->second}, asked->second.report});
          waited = std::max(waited, std::chrono::duration_cast<std::chrono::milliseconds>(
                                        MissPolicy::Clock::now() - (asked->second.until - cfg_.patience)));
        }
        w.asked.erase(asked);
      }
  if (!found.empty() && install(net, view, found, index, feed))
    log::debug("network '" + net + "': " + std::to_string(found.size()) + " ARP reports answered from the " +
               (feed ? "feed" : "leader") + " (index " + std::to_string(index) + ") after up to " +
               std::to_string(waited.count()) + " ms");
  if (!anyJoining(w)) return;
  // Both listings are of one snapshot: the newer of their indexes is as new as every record of either.
  if (members) join(net, view, w, members->pairs, std::max(index, members->index), false, leaderAt);
  else joinFromFeed(net, view, w);
}

bool MissAnswerer::anyJoining(const Waiting& w) {
  return std::any_of(w.asked.begin(), w.asked.end(), [](const auto& kv) { return kv.second.joining; });
}

void MissAnswerer::handJoining(Asked& a) {
  log::debug("ARP report for " + a.report.ip.str() + ": host '" + a.host + "' is no member the leader listed, handed to the loop");
  a.joining = false, a.handed = true;
  handOff(a.report);
}

void MissAnswerer::joinFromFeed(const std::string& net, const View& view, Waiting& w) {
  const std::string prefix = cluster_->keys().network(net);
  uint64_t index = 0;
  std::optional<std::vector<kv::KvPair>> listing;
  {
    std::lock_guard lk(latestMu_);
    if (latest_) listing = latest_(prefix, &index);
  }
  if (listing) join(net, view, w, *listing, index, true, std::nullopt);
  if (!cfg_.readLeader || readingMembers_.count(net) || !anyJoining(w)) return;  // (one under way: its answer decides, and reads again for what came after it was queued)
  // At most one read of a network's members per kMembersSpacing (records of a host that is no member, left
  // behind, would otherwise cost one per report): within it, the read waits.
  const auto now = MissPolicy::Clock::now();
  auto last = membersReadAt_.find(net);
  if (last != membersReadAt_.end() && now - last->second < kMembersSpacing) {
    membersDue_.try_emplace(net, last->second + kMembersSpacing);
    return;
  }
  readMembers(net, now);
}

void MissAnswerer::readMembers(const std::string& net, MissPolicy::Clock::time_point now) {
  membersDue_.erase(net);
  membersReadAt_[net] = now;
  readingMembers_.insert(net);
  Read r{net, {}, {}, std::nullopt, true, now};
  {
    std::lock_guard lk(mu_);
    toRead_.push_back(std::move(r));
  }
  readerCv_.notify_all();
}

void MissAnswerer::readMembersDue(const std::map<std::string, View>& views, MissPolicy::Clock::time_point now) {
  std::vector<std::string> due;
  for (const auto& [net, at] : membersDue_)
    if (at <= now && !readingMembers_.count(net)) due.push_back(net);
  for (const auto& net : due) {
    auto w = waiting_.find(net);
    if (!views.count(net) || w == waiting_.end() || !anyJoining(w->second)) {
      membersDue_.erase(net);
      continue;
    }
    readMembers(net, now);
  }
}

void MissAnswerer::join(const std::string& net, const View& view, Waiting& w, const std::vector<kv::KvPair>& members,
                        uint64_t index, bool feed, std::optional<MissPolicy::Clock::time_point> leaderAt) {
  // After the leader's listing, read when `leaderAt` was: what it lacks is the loop's, unless it was asked
  // for after that (the host may have joined since: read again).
  bool again = false;
  auto rest = [&](Asked& a) {
    if (!a.joining || !leaderAt) return;
    if (a.until - cfg_.patience > *leaderAt) again = true;
    else handJoining(a);
  };
  auto st = model::parseNetworkListing(cluster_->keys(), net, members);
  if (!st.vni || *st.vni != view.vni) {  // not this network's (a store that forgot, a VNI that moved): the loop's
    for (auto& [ip, a] : w.asked) rest(a);
    if (again) membersDue_.try_emplace(net, *leaderAt + kMembersSpacing);
    return;
  }
  std::map<std::string, IpAddr> vtepOf;
  for (const auto& m : st.members)
    if (m.host != cfg_.hostName) vtepOf.emplace(m.host, m.vtep);
  std::vector<std::pair<vxlan::Peer, vxlan::Miss>> found;
  std::set<IpAddr> joined;
  for (auto it = w.asked.begin(); it != w.asked.end();) {
    Asked& a = it->second;
    auto vtep = a.joining ? vtepOf.find(a.host) : vtepOf.end();
    if (vtep != vtepOf.end()) {
      found.push_back({{it->first, a.mac, vtep->second}, a.report});
      if (!view.vtepOf.count(a.host)) joined.insert(vtep->second);
      it = w.asked.erase(it);
      continue;
    }
    rest(a);
    ++it;
  }
  if (again) membersDue_.try_emplace(net, *leaderAt + kMembersSpacing);
  if (found.empty() || !install(net, view, found, index, feed, joined)) return;
  figures_->joins += joined.size();
  for (const auto& vtep : joined)
    log::info("flood entry for " + vtep.str() + " added: a member of '" + net + "' an ARP report found before the feed did");
}

bool MissAnswerer::install(const std::string& net, const View& view,
                           const std::vector<std::pair<vxlan::Peer, vxlan::Miss>>& found, uint64_t index, bool feed,
                           const std::set<IpAddr>& joined) {
  std::vector<vxlan::Peer> peers;
  for (const auto& [p, m] : found) peers.push_back(p);
  auto r = [&]() -> Result<void> {
    auto lock = TRY(vxlan::HostLock::acquire(cfg_.stateDir, net));
    // Hosts that joined: as the loop's applyMembers does (idempotent), before the entries that use them.
    if (!joined.empty()) TRY_VOID(allow_->join(*sock_, view.dev, view.vni, joined));
    // Added as new (replace): what the kernel holds for these addresses is the loop's to reconcile.
    (void)TRY(vxlan::applyPeerChanges(*sock_, view.dev, {}, peers, announcer_));
    std::lock_guard lk(mu_);
    auto& list = installed_[net];
    for (const auto& p : peers) list.push_back({p, index});
    return {};
  }();
  if (!r) {
    log::debug("network '" + net + "': answering ARP reports: " + r.error().msg + "; left to the loop");
    for (const auto& [p, m] : found) handOff(m);
    return false;
  }
  for (const auto& p : peers) {
    announcer_.added(view.dev.bridge.index, p.ip, p.mac, true);
    ++figures_->answered;
    if (feed) ++figures_->fromFeed;
  }
  return true;
}

}  // namespace ovl::overlay
