#include "kv/change_feed.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

#include "util/log.hpp"

namespace ovl::kv {
namespace {

// Changes of one prefix closer together than this are a burst (ConsulConfig::WatchReads::Auto): in the scale
// scenario's bursts a network changes every 10-50 ms, one call at a time on a busy cluster every 200 ms+.
constexpr std::chrono::milliseconds kBurstWindow{300};

}  // namespace

FeedAnswer classifyAnswer(uint64_t held, uint64_t index, bool unchanged, bool stale) {
  if (held == 0) return FeedAnswer::Change;
  if (unchanged || index == held) return FeedAnswer::Same;
  // A follower's wait that ran out before it applied what the leader (or another server) had shown: its
  // listing is older than the one held. Handing it on would take back records and members for the time it
  // takes the next answer to bring them again (at 50 hosts: every sixth wake of a burst did, 1,400 flood
  // entries removed and added back in one add phase).
  if (stale && index < held) return FeedAnswer::Behind;
  return FeedAnswer::Change;
}

ChangeFeed::~ChangeFeed() {
  if (dirThread_.joinable()) {
    uint64_t one = 1;
    (void)!::write(dirStop_.get(), &one, sizeof one);
    dirThread_.join();
  }
  follow({});
  for (auto& f : stopping_) f->thread.join();
}

void ChangeFeed::follow(const std::set<std::string>& prefixes, std::map<std::string, Seed> seeds) {
  for (auto it = followers_.begin(); it != followers_.end();) {
    if (prefixes.count(it->first)) {
      ++it;
      continue;
    }
    {
      std::lock_guard lk(mu_);  // with mu_: no answer of it is recorded, nor handed to onAnswer, after this
      it->second->stop = true;  // its blocking query ends within about a second (the client's cancel check)
      latest_.erase(it->first);
      changed_.erase(it->first);
      index_.erase(it->first);
    }
    stopping_.push_back(std::move(it->second));
    it = followers_.erase(it);
  }
  for (const auto& p : prefixes) {
    if (followers_.count(p)) continue;
    auto f = std::make_unique<Follower>();
    f->prefix = p;
    if (auto seed = seeds.find(p); seed != seeds.end() && seed->second.index > 0) {
      f->from = seed->second.index;
      std::lock_guard lk(mu_);
      changed_[p] = seed->second.pairs;
      if (onAnswer_) onAnswer_(p, seed->second.pairs);
      latest_[p] = std::move(seed->second.pairs);
      index_[p] = f->from;
      cv_.notify_all();
    }
    Follower& ref = *f;
    f->thread = std::thread([this, &ref] { run(ref); });
    followers_.emplace(p, std::move(f));
  }
  reap();
}

void ChangeFeed::reap() {
  for (auto it = stopping_.begin(); it != stopping_.end();) {
    if (!(*it)->done) {
      ++it;
      continue;
    }
    (*it)->thread.join();
    it = stopping_.erase(it);
  }
}

void ChangeFeed::run(Follower& f) {
  auto client = ConsulClient::create(cfg_);
  if (!client) {
    log::error("watch: " + f.prefix + ": " + client.error().msg);
    f.done = true;
    return;
  }
  uint64_t index = f.from;
  bool failing = false;
  using Clock = std::chrono::steady_clock;
  auto lastChange = Clock::now() - std::chrono::hours(1);
  using Reads = ConsulConfig::WatchReads;
  // A follower was behind (FeedAnswer::Behind): the next read is the leader's. (Reading the leader's for the
  // rest of the burst instead measured the same at 50 hosts: docs/scale.md 4m.)
  bool leaderNext = false;
  while (!f.stop) {
    // Who answers (ConsulConfig::watchReads): in a burst (a change within kBurstWindow) any server, and
    // only for that long, so that the first change after the burst comes from the leader again.
    const bool burst = Clock::now() - lastChange < kBurstWindow;
    const bool afterBehind = std::exchange(leaderNext, false);
    const bool stale = !afterBehind &&
                       (cfg_.watchReads == Reads::AnyServer || (cfg_.watchReads == Reads::Auto && burst));
    // A minute at rest: each wait that runs out costs Consul the listing again (Consul allows up to 10).
    // The leader's read after a follower's older answer waits only the burst window: were the store restored
    // to an older snapshot, the leader would hold the query until its index passed ours, up to that minute.
    const auto waitMs = (cfg_.watchReads == Reads::Auto && burst) || afterBehind ? kBurstWindow.count() : 60000;
    auto r = client->listBlocking(f.prefix, index, waitMs, &f.stop,
                                  stale ? ConsulClient::ReadFrom::AnyServer : ConsulClient::ReadFrom::Leader);
    if (f.stop) break;
    if (!r) {
      if (!std::exchange(failing, true)) log::warn("watch: " + f.prefix + ": " + r.error().msg + "; retrying");
      index = 0;  // a store that comes back may be a new one, whose index is below ours
      for (int i = 0; i < 10 && !f.stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (std::exchange(failing, false)) log::info("watch: " + f.prefix + ": the store answers again");
    ++answers_;
    const FeedAnswer kind = classifyAnswer(index, r->index, r->unchanged, stale);
    if (kind == FeedAnswer::Behind) {
      if (behindInto_) ++*behindInto_;
      log::debug("watch: " + f.prefix + ": a follower's listing is older than index " + std::to_string(index) +
                 "; reading the leader's");
      leaderNext = true;  // a store that restarted with a lower index is found there too
      continue;
    }
    if (kind == FeedAnswer::Change) {
      if (index != 0) lastChange = Clock::now();
      else log::debug("watch: " + f.prefix + ": first listing, index " + std::to_string(r->index));
      std::lock_guard lk(mu_);
      if (f.stop) break;
      changed_[f.prefix] = r->pairs;
      if (onAnswer_) onAnswer_(f.prefix, r->pairs);
      latest_[f.prefix] = std::move(r->pairs);
      index_[f.prefix] = r->index;
      cv_.notify_all();
    }
    index = r->index;
  }
  f.done = true;
}

Result<void> ChangeFeed::watchDirectory(const std::string& dir, const std::string& suffix) {
  UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd) return fail(sysError(errno, "inotify"));
  if (::inotify_add_watch(fd.get(), dir.c_str(), IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM) < 0)
    return fail(sysError(errno, "watching " + dir));
  if (dirThread_.joinable()) return fail(Code::Internal, "change feed: a directory is watched already");
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop) return fail(sysError(errno, "eventfd"));
  inotify_ = std::move(fd);
  dirStop_ = std::move(stop);
  suffix_ = suffix;
  // Its own thread, so that a file that appears wakes wait() at once rather than at its next look.
  dirThread_ = std::thread([this] {
    pollfd fds[2] = {{inotify_.get(), POLLIN, 0}, {dirStop_.get(), POLLIN, 0}};
    for (;;) {
      const int n = ::poll(fds, 2, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 || fds[1].revents) return;
      if (!readDirectoryEvents()) continue;
      std::lock_guard lk(mu_);
      dirHit_ = true;
      cv_.notify_all();
    }
  });
  return {};
}

bool ChangeFeed::readDirectoryEvents() {
  if (!inotify_) return false;
  bool hit = false;
  alignas(inotify_event) char buf[4096];
  for (;;) {
    ssize_t n = ::read(inotify_.get(), buf, sizeof buf);
    if (n <= 0) return hit;
    for (ssize_t off = 0; off < n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buf + off);
      std::string_view name(e->len ? e->name : "");
      name = name.substr(0, name.find('\0'));
      if (name.size() >= suffix_.size() && name.substr(name.size() - suffix_.size()) == suffix_) hit = true;
      off += ssize_t(sizeof(inotify_event) + e->len);
    }
  }
}

ChangeFeed::Changes ChangeFeed::wait(std::chrono::milliseconds timeout, const std::atomic<bool>& stopping) {
  Changes out;
  std::unique_lock lk(mu_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Slices of 100 ms: a signal handler that sets `stopping` cannot notify the condition variable.
  for (;;) {
    out.local = std::exchange(dirHit_, false) || std::exchange(poked_, false) || out.local;
    out.woken = std::exchange(woken_, false) || out.woken;
    const auto now = std::chrono::steady_clock::now();
    if (!changed_.empty() || out.local || out.woken || stopping || now >= deadline) break;
    cv_.wait_until(lk, std::min(deadline, now + std::chrono::milliseconds(100)));
  }
  out.prefixes = std::exchange(changed_, {});
  for (const auto& [prefix, _] : out.prefixes)
    if (auto it = index_.find(prefix); it != index_.end()) out.indexes[prefix] = it->second;
  return out;
}

void ChangeFeed::wake() {
  std::lock_guard lk(mu_);
  woken_ = true;
  cv_.notify_all();
}

void ChangeFeed::poke() {
  std::lock_guard lk(mu_);
  poked_ = true;
  cv_.notify_all();
}

bool ChangeFeed::allAnswered() {
  std::lock_guard lk(mu_);
  for (const auto& [prefix, f] : followers_)
    if (!latest_.count(prefix)) return false;
  return true;
}

std::optional<std::vector<KvPair>> ChangeFeed::latest(const std::string& prefix, uint64_t* index) {
  std::lock_guard lk(mu_);
  auto it = latest_.find(prefix);
  if (it == latest_.end()) return std::nullopt;
  if (index) *index = index_.count(prefix) ? index_[prefix] : 0;
  return it->second;
}

}  // namespace ovl::kv
