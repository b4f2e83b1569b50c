// Answers ARP reports (vxlan/misses.hpp) on threads of its own (an answerer, and a reader for the leader's
// listings, so that a slow read holds back no fallback), so that a container's first contact with a
// new peer does not wait for the watcher's loop, which on a loaded host may be busy past the asker's 1 s ARP
// retry with other networks' changes. Per network, the addresses asked for are looked up first in the change
// feed's latest listing of its attachments, then (bounded by MissPolicy: one read per network per 100 ms, 20
// a second) in the leader's; one found on a member host has its three peer entries installed under the
// network's HostLock and is announced on the bridge. An address neither has waits `patience` for the feed to
// bring it (the asker may still be waiting). An address on a host the loop does not know as a member yet (it
// joined a moment ago) is joined here: the host's member record is looked up in the network's members the
// leader's read of its attachments brought (one request reads both), else in the feed's latest listing of
// them, then in the leader's (one read), and its VTEP is admitted to the allow-list and
// appended to the flood list before the entries are installed (the loop applies the same join when its feed
// brings it: both steps are idempotent). The loop is handed what this cannot answer: an address on a host
// the leader does not list as a member, and reports for networks it has not synced.
//
// Flooding stays the fallback: a request not answered `floodAfter` after its report (the store is slow: on a
// loaded host or Consul a read can take hundreds of ms) is sent on to every member of the network in the
// asker's name, as it would have been without the watcher, unless a read found that the store has no such
// address. The answer still comes and is installed; the fallback bounds the first contact's wait.
//
// The loop must learn of the installs (takeInstalled, under the same HostLock): its diffs would otherwise
// not remove the entry of a container that left before the loop saw it come.
//
// Who can make reports: any local container (see misses.hpp). Each asker has MissPolicy's asker budget; at
// most kPending addresses wait per network (the others are dropped: the asker asks again); a listing is
// parsed again only when its index moved, and then only the records whose ModifyIndex did.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <cstdint>
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
#include "model/cluster.hpp"
#include "overlay/miss_figures.hpp"
#include "overlay/miss_policy.hpp"
#include "util/error.hpp"
#include "util/unique_fd.hpp"
#include "vxlan/allow_list.hpp"
#include "vxlan/datapath.hpp"
#include "vxlan/misses.hpp"
#include "vxlan/peers.hpp"

namespace ovl::overlay {

namespace detail {
struct AnswererInstall {
  vxlan::Peer peer;
  uint64_t index = 0;  // the X-Consul-Index of the listing it was read from
};
}  // namespace detail

// The loop's step for what the answerer installed on a network (`installs`, oldest first) before it applies
// the listing with index `listing` to the entries: they are in the kernel, so they join `before` (what its
// diff starts from, replacing the address's entry); those read from a newer listing also join `after` (what
// the diff ends with), so that the older listing in hand does not take them back. `listing` 0: the age of
// what is in hand is not known (a cache): every install is kept. With `known` (the VTEPs of the members the
// loop knows), an install on any other VTEP is kept too: the answerer joined its host, the loop has not yet.
// Pure, for unit tests.
void mergeInstalls(const std::vector<detail::AnswererInstall>& installs, uint64_t listing,
                   std::vector<vxlan::Peer>& before, std::vector<vxlan::Peer>& after,
                   const std::set<IpAddr>* known = nullptr);

class MissAnswerer {
 public:
  static constexpr size_t kPending = 256;
  // A network the loop synced, as this needs it.
  struct View {
    uint32_t vni = 0;
    vxlan::NetDevices dev;
    std::map<std::string, IpAddr> vtepOf;  // the other member hosts' VTEPs
  };
  using Install = detail::AnswererInstall;
  // The latest listing of a prefix and its index; nullopt when there is none (yet).
  using Latest = std::function<std::optional<std::vector<kv::KvPair>>(const std::string& prefix, uint64_t* index)>;
  // Listings of prefixes from the leader, in one request and from one snapshot, one per prefix, each with
  // an index as new as its records (kv::ConsulClient::readTrees; `cancel`: give up, the answerer stops).
  using ReadLeader = std::function<Result<std::vector<kv::ConsulClient::Watch>>(
      const std::vector<std::string>& prefixes, const std::atomic<bool>* cancel)>;
  struct Config {
    std::string stateDir, hostName;
    std::chrono::milliseconds patience{1000};
    std::chrono::milliseconds floodAfter{50};  // 0: never
    MissPolicy::Limits limits{};
    std::function<std::set<vxlan::Miss>()> reports;  // takes what was reported since (called on the thread)
    ReadLeader readLeader;                           // none: only the feed is looked in
    std::function<void()> handOff;                   // handedOff() has something (called on the thread)
  };

  // Opens its sockets (netlink, the announcer's) in the calling thread's network namespace, and starts.
  // `cluster` (its keys, to parse records) must outlive this.
  static Result<std::unique_ptr<MissAnswerer>> start(Config cfg, const model::Cluster& cluster,
                                                     std::shared_ptr<MissFigures> figures);
  ~MissAnswerer();
  MissAnswerer(const MissAnswerer&) = delete;
  MissAnswerer& operator=(const MissAnswerer&) = delete;

  // Reports wait in cfg.reports (any thread).
  void notify();
  // The feed's latest listings from now on (nullptr: none; returns once no call into the old one runs).
  void setLatest(Latest latest);
  // The feed has a new listing of `prefix` (any thread, cheap: it may hold the feed's lock).
  void changed(const std::string& prefix);
  // The networks the loop synced, by name (replaces the last ones). Reports for others are handed off.
  void publish(std::map<std::string, View> views);
  // What the loop answers: reports this could not.
  std::set<vxlan::Miss> handedOff();
  // The loop answered these addresses of `net` (a hand-off): they are not flooded.
  void resolved(const std::string& net, const std::set<IpAddr>& ips);
  // The entries installed on `net` since the last call. Call under the network's HostLock (this installs and
  // records under it), so that what the kernel holds and what is returned agree.
  std::vector<Install> takeInstalled(const std::string& net);

 private:
  MissAnswerer() = default;
  struct Asked {  // an address asked for and not found yet
    MissPolicy::Clock::time_point until, floodAt;
    vxlan::Miss report;
    bool read = false;     // given to MissPolicy for a leader read
    bool unknown = false;  // a read did not find it: nothing to flood for
    bool flooded = false;
    bool handed = false;  // on a host the leader does not list: handed to the loop, still flooded when late
    // Found on `host`, which the loop does not know as a member: waits for its member record (join()).
    bool joining = false;
    std::string host;
    MacAddr mac;
  };
  struct Waiting {  // a network's
    std::map<IpAddr, Asked> asked;
    bool dirty = false;  // addresses came, or the feed's listing moved, since it was last looked at
  };
  struct Parsed {  // a network's records as last parsed, by key, at their ModifyIndex
    uint64_t index = 0;
    std::map<std::string, std::pair<uint64_t, std::vector<model::AttachmentRecord>>> byKey;
  };
  void run();
  void take(const std::map<std::string, View>& views, MissPolicy::Clock::time_point now);
  void lookInFeed(const std::string& net, const View& view, Waiting& w);
  // A leader read of a network's attachments for addresses asked for, with its members (the hosts of those
  // that turn out to be joining), or of its members only.
  struct Read {
    std::string net;
    std::set<IpAddr> ips;
    std::vector<vxlan::Miss> reports;  // theirs: a read that comes back after the patience still answers them
    // Once done: P/attachments/<net>/ then P/networks/<net>/, or only the latter (`members`).
    std::optional<Result<std::vector<kv::ConsulClient::Watch>>> listings;
    bool members = false;
    MissPolicy::Clock::time_point queuedAt{};
  };
  void readAll();  // the reader thread: reads what toRead_ holds, one at a time
  void readDone(Read& r, const std::map<std::string, View>& views, MissPolicy::Clock::time_point now);
  // `members` (a listing of P/networks/<net>/ read with `listing` from the leader at `leaderAt`): the hosts of
  // addresses found joining are looked up there (join()), else in the feed's (joinFromFeed()).
  void look(const std::string& net, const View& view, Waiting& w, const std::vector<kv::KvPair>& listing, uint64_t index,
            bool feed, const kv::ConsulClient::Watch* members = nullptr, MissPolicy::Clock::time_point leaderAt = {});
  bool install(const std::string& net, const View& view, const std::vector<std::pair<vxlan::Peer, vxlan::Miss>>& found,
               uint64_t index, bool feed, const std::set<IpAddr>& joined = {});
  // The network's joining addresses whose host `members` (a listing of P/networks/<net>/) has: their hosts
  // joined, their entries installed. `leaderAt` (the leader's listing, queued then): the others asked for
  // before it are handed to the loop, those asked for after wait for another read.
  void join(const std::string& net, const View& view, Waiting& w, const std::vector<kv::KvPair>& members,
            uint64_t index, bool feed, std::optional<MissPolicy::Clock::time_point> leaderAt);
  static bool anyJoining(const Waiting& w);
  void handJoining(Asked& a);  // its host's member record was not found: the loop decides
  // join() from the feed's latest members listing; what it lacks is read from the leader.
  void joinFromFeed(const std::string& net, const View& view, Waiting& w);
  void readMembers(const std::string& net, MissPolicy::Clock::time_point now);  // queues the read
  void readMembersDue(const std::map<std::string, View>& views, MissPolicy::Clock::time_point now);
  void handOff(const vxlan::Miss& m);
  void floodLate(MissPolicy::Clock::time_point now, const std::map<std::string, View>& views);  // on the thread: the loop is woken at the end of the round

  Config cfg_;
  const model::Cluster* cluster_ = nullptr;
  std::shared_ptr<MissFigures> figures_;
  std::optional<nl::Socket> sock_;
  vxlan::Announcer announcer_;
  UniqueFd floodSocket_;  // sends the fallback requests
  std::optional<vxlan::AllowList> allow_;  // admits the VTEPs of hosts joined here
  MissPolicy policy_;
  std::atomic<bool> stopping_{false};

  std::mutex mu_;  // what other threads share with the thread
  std::condition_variable cv_;
  bool stop_ = false, notified_ = false;
  std::set<std::string> changedPrefixes_;
  std::map<std::string, View> views_;
  std::set<vxlan::Miss> handed_;
  std::map<std::string, std::set<IpAddr>> resolved_;
  bool viewsChanged_ = false;
  std::map<std::string, std::vector<Install>> installed_;
  std::condition_variable readerCv_;
  std::deque<Read> toRead_, readsDone_;

  std::mutex latestMu_;  // held while the feed is read: setLatest waits for it
  Latest latest_;

  // The thread's own.
  std::map<std::string, Waiting> waiting_;
  std::map<std::string, Parsed> parsed_;
  bool handing_ = false;  // handOff() was called this round
  // Networks with a read under way, and the addresses that came due meanwhile (read for once it is done):
  // a slow leader meets one read per network, not a queue of them.
  std::map<std::string, std::set<IpAddr>> reading_;
  std::set<std::string> readingMembers_;  // networks with a read of their members under way
  static constexpr std::chrono::milliseconds kMembersSpacing{100};
  std::map<std::string, MissPolicy::Clock::time_point> membersReadAt_;
  std::map<std::string, MissPolicy::Clock::time_point> membersDue_;  // a members read waits for the spacing
  std::thread thread_, reader_;  // reads on a thread of their own: a slow one holds back no fallback
};

}  // namespace ovl::overlay
