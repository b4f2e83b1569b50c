// A daemon's view of the store: one Consul blocking query per followed prefix, each on a thread of its own
// with its own client (ConsulClient is not thread-safe), so that `overlay watch` and overlay-resolver wake
// only for the networks of their host, not for every change anywhere in the cluster.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kv/consul.hpp"
#include "util/unique_fd.hpp"

namespace ovl::kv {

// What a follower makes of one answer of its blocking query, given the index of the listing it holds (0: none
// yet) and whether a follower server answered (?stale). Pure, for unit tests.
enum class FeedAnswer {
  Same,    // the wait ran out, the index did not move: nothing to hand on
  Change,  // a newer listing, the first one, or (from the leader) an index that went back: the store restarted
  Behind,  // a follower that has not applied the listing held yet (its wait ran out): older, not handed on
};
FeedAnswer classifyAnswer(uint64_t held, uint64_t index, bool unchanged, bool stale);

class ChangeFeed {
 public:
  explicit ChangeFeed(ConsulConfig cfg) : cfg_(std::move(cfg)) {}
  ~ChangeFeed();
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

  // A new prefix's first listing, read by the caller (from the leader, with the prefixes of other networks
  // in one request): it counts as the prefix's first answer, and the prefix's query starts from its index.
  // `index`: as new as every record listed (e.g. their greatest ModifyIndex, as ConsulClient::readTrees).
  struct Seed {
    std::vector<KvPair> pairs;
    uint64_t index = 0;
  };
  // Follows exactly these prefixes: starts a query for new ones (its first answer counts as a change; with a
  // seed in `seeds`, the seed does, at once), stops the others. Idempotent; seeds of prefixes followed
  // already are ignored.
  void follow(const std::set<std::string>& prefixes, std::map<std::string, Seed> seeds = {});
  // Also wakes wait() when a file whose name ends with `suffix` appears in `dir` (created or renamed there,
  // or removed): the plugins' local records of which networks this host has.
  Result<void> watchDirectory(const std::string& dir, const std::string& suffix);

  struct Changes {
    std::map<std::string, std::vector<KvPair>> prefixes;  // each with its latest listing
    std::map<std::string, uint64_t> indexes;               // and that listing's X-Consul-Index
    bool local = false;                                       // the watched directory changed, or poke()
    bool woken = false;                                       // wake() was called
  };
  // Waits until a followed prefix or the watched directory changed, `timeout` passed or `stopping` turned
  // true; returns what changed since the last call.
  Changes wait(std::chrono::milliseconds timeout, const std::atomic<bool>& stopping);
  // The latest listing of a followed prefix; nullopt before its first answer (an empty listing is an answer).
  std::optional<std::vector<KvPair>> latest(const std::string& prefix, uint64_t* index = nullptr);  // and its X-Consul-Index
  // Every followed prefix has had its first answer.
  bool allAnswered();
  // Called with each change as it arrives, on the follower's thread, before wait() sees it; never for a
  // prefix after follow() stopped following it. Set before the first follow().
  void onAnswer(std::function<void(const std::string& prefix, const std::vector<KvPair>& pairs)> f) {
    std::lock_guard lk(mu_);
    onAnswer_ = std::move(f);
  }
  // Wakes wait() now (from any thread), as a change would.
  void poke();
  // Wakes wait() now (from any thread) for something else than the store or the directory: Changes::woken.
  void wake();
  // Blocking queries answered (a change or the wait running out), for tests and logs.
  uint64_t answers() const { return answers_; }
  // Counts answers of a follower server older than the listing held (FeedAnswer::Behind, not handed on)
  // into `into` (a metrics endpoint's). Set before the first follow().
  void countBehindInto(std::shared_ptr<std::atomic<uint64_t>> into) { behindInto_ = std::move(into); }

 private:
  struct Follower {
    std::string prefix;
    uint64_t from = 0;  // the index of its seed (0: none)
    std::atomic<bool> stop{false};
    std::atomic<bool> done{false};
    std::thread thread;
  };
  void run(Follower& f);
  void reap();

  ConsulConfig cfg_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::vector<KvPair>> changed_, latest_;
  std::map<std::string, uint64_t> index_;  // of each prefix's latest listing
  std::map<std::string, std::unique_ptr<Follower>> followers_;
  std::vector<std::unique_ptr<Follower>> stopping_;  // told to stop, joined once done
  std::atomic<uint64_t> answers_{0};
  std::shared_ptr<std::atomic<uint64_t>> behindInto_;
  std::function<void(const std::string&, const std::vector<KvPair>&)> onAnswer_;
  bool poked_ = false, woken_ = false;
  bool dirHit_ = false;  // the watched directory changed since wait() last looked (under mu_)
  UniqueFd inotify_, dirStop_;
  std::string suffix_;
  std::thread dirThread_;  // blocks on inotify_ until dirStop_ is written
  bool readDirectoryEvents();
};

}  // namespace ovl::kv
