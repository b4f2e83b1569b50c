// overlay-resolver: this host's name service for containers on overlay networks (the embedded DNS of
// Docker's overlay). Reads the node config like `overlay watch`; runs beside it, one per host.
//
//   node config "resolver": {"upstreams": ["203.0.113.53", "[2001:db8::53]:5353"], "ttl": 0}
//   (default upstreams: the nameservers of this host's /etc/resolv.conf)
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <algorithm>
#include <chrono>
#include <sstream>
#include <thread>

#include "kv/change_feed.hpp"
#include "kv/leader_reader.hpp"
#include "kv/node_config.hpp"
#include "model/cluster.hpp"
#include "model/listing_link.hpp"
#include "resolver/server.hpp"
#include "util/build_version.hpp"
#include "util/log.hpp"

namespace ovl::resolver {
namespace {

std::atomic<bool> stopping{false};
void onSignal(int) { stopping = true; }

Result<ServerOptions> options(const kv::NodeConfig& node) {
  ServerOptions o;
  o.stateDir = node.stateDir.value_or(kv::kDefaultStateDir);
  const json::Value* r = node.doc ? json::member(*node.doc, "resolver") : nullptr;
  const std::string where = "node config " + node.path;
  if (r && !r->IsObject()) return fail(Code::InvalidConfig, where + ": field 'resolver' must be an object");
  if (r) {
    for (const auto& s : TRY(json::optStringArray(*r, "upstreams", "resolver"))) {
      auto u = parseUpstream(s);
      if (!u) return fail(Code::InvalidConfig, where + ": field 'resolver.upstreams' has '" + s + "', not an IP[:port]");
      o.upstreams.push_back(*u);
    }
    if (auto t = TRY(json::optInt(*r, "ttl", "resolver", 0, 86400))) o.ttl = uint32_t(*t);
  }
  if (!r || !json::member(*r, "upstreams")) {
    std::ifstream in("/etc/resolv.conf");
    std::stringstream ss;
    ss << in.rdbuf();
    o.upstreams = upstreamsFromResolvConf(ss.str());
  }
  return o;
}

// Where each served network's names come from: the listing this host's `overlay watch` shares (it
// receives the network's attachments anyway), or else a blocking query of our own on P/attachments/<net>/.
struct Sources {
  std::set<std::string> shared;  // networks whose listings the watcher hands over
  std::set<std::string> asked;   // prefixes followed in the store
  bool operator==(const Sources&) const = default;
};

using Clock = std::chrono::steady_clock;
// A name no table has is read for (Server::onUnknownName): a network's reads come kReadBurst at once (the
// names of containers started together), then one every kReadSpacing, so a container asking for names nobody
// has costs the store at most 10 reads a second per network. A read that fails stops them for kReadBackoff
// (the held queries get NXDOMAIN at once meanwhile).
constexpr auto kReadSpacing = std::chrono::milliseconds(100);
constexpr int kReadBurst = 3;
constexpr auto kReadBackoff = std::chrono::seconds(1);
// After a read, a listing that has not seen its newest record (the feed lags the leader) would take back
// the names it found: such listings wait this long, or for a newer one.
constexpr auto kReadHold = std::chrono::seconds(5);

// The networks held queries wait for (the serving thread adds, the names thread takes).
struct WantedReads {
  std::mutex mu;
  std::set<std::string> nets;
};

// One served network's names, and where its latest listing came from.
struct Followed {
  NetworkNames names;
  uint64_t newest = 0;  // the newest ModifyIndex of the listing `names` was last made from
  std::optional<uint64_t> sharedVersion;  // the watcher's listing its table was made from, while shared
  uint64_t readNewest = 0;                // the newest ModifyIndex of the last read's listing
  std::optional<Clock::time_point> readAt;
  bool behind = false;  // a listing older than that read was not applied (yet)
};

template <class Views>
uint64_t newestOf(const Views& views) {
  uint64_t n = 0;
  for (const auto& v : views) n = std::max(n, v.modifyIndex);
  return n;
}

// True (and the network marked behind) when a listing whose newest record is `newest` has not seen the
// last read's, within kReadHold of it.
bool olderThanRead(Followed& f, uint64_t newest, Clock::time_point now) {
  if (!f.readAt || now - *f.readAt >= kReadHold || newest >= f.readNewest) return false;
  f.behind = true;
  return true;
}

// Brings the network's names up to date with its latest listing: a read of the leader's (`read`), else the
// watcher's (`shared`, parsed again only when a newer one came), else the store's for `prefix`, when it
// changed or nothing was had yet; one older than the last read waits (olderThanRead).
void refreshFollowed(const model::Keys& keys, Followed& f, const model::ListingClient::Shared* shared,
                     const std::string& prefix, kv::ChangeFeed::Changes& got, kv::ChangeFeed& feed,
                     const std::vector<kv::KvPair>* read, Clock::time_point now) {
  const bool had = f.names.table() != nullptr;
  if (read) {
    f.names.update(keys, model::viewsOf(*read));
    f.readNewest = f.newest = newestOf(*read), f.readAt = now, f.behind = false;
    return;
  }
  if (shared) {
    if (had && f.sharedVersion == shared->version && !f.behind) return;
    if (olderThanRead(f, newestOf(shared->listing->records()), now)) return;
    f.names.update(keys, shared->listing->records());
    f.newest = newestOf(shared->listing->records());
    f.sharedVersion = shared->version, f.behind = false;
    return;
  }
  f.sharedVersion.reset();
  std::optional<std::vector<kv::KvPair>> asked;
  if (auto changed = got.prefixes.find(prefix); changed != got.prefixes.end()) asked = std::move(changed->second);
  else if (!had || f.behind) asked = feed.latest(prefix);
  if (!asked || olderThanRead(f, newestOf(*asked), now)) return;
  f.names.update(keys, model::viewsOf(*asked));
  f.newest = newestOf(*asked);
  f.behind = false;
}

// A listing of a wanted network from the server this daemon talks to, read from its own copy (?stale), handed
// over before the leader's read.
using EarlyListing = std::function<void(const std::string& net, const std::vector<kv::KvPair>& pairs)>;

// Reads the attachments of the wanted networks that are due from the leader; returns the listings read and,
// in `done`, when each read of a wanted network started (a network not served, or while reads fail, is done
// at once: nothing to wait for). Each leader read is preceded by a read of the server this daemon talks to,
// from its own copy (?stale), handed to `early`: in a burst the leader can take 100-250 ms to answer a read
// (docs/scale.md 4q), and a name that server has already is answered then. Only the leader's read decides
// that a name is not there.
std::map<std::string, std::vector<kv::KvPair>> readWanted(model::Cluster& cluster, kv::LeaderReader* leader,
                                                           WantedReads& wanted,
                                                           const std::set<std::string>& served,
                                                           std::map<std::string, Clock::time_point>& readTat,
                                                           std::optional<Clock::time_point>& failingUntil,
                                                           std::map<std::string, Clock::time_point>& done,
                                                           const EarlyListing& early) {
  std::map<std::string, std::vector<kv::KvPair>> out;
  std::vector<std::string> due;
  const auto now = Clock::now();
  {
    std::lock_guard lk(wanted.mu);
    std::erase_if(wanted.nets, [&](const std::string& net) {
      if (!served.count(net) || (failingUntil && now < *failingUntil)) return done[net] = now, true;
      if (auto tat = readTat.find(net); tat != readTat.end() && now < tat->second - (kReadBurst - 1) * kReadSpacing)
        return false;
      due.push_back(net);
      return true;
    });
  }
  for (const auto& net : due) {
    const auto started = Clock::now();
    auto& tat = readTat[net];
    tat = std::max(tat, started) + kReadSpacing;
    done[net] = started;
    const std::string prefix = cluster.keys().attachmentsOf(net);
    if (early) {
      if (auto any = cluster.kv().listBlocking(prefix, 0, 0, nullptr, kv::ConsulClient::ReadFrom::AnyServer))
        early(net, any->pairs);
      else
        log::debug("reading the names of '" + net + "' from the nearest server: " + any.error().msg);
    }
    auto r = [&]() -> Result<std::vector<kv::KvPair>> {
      if (leader) return std::move(TRY(leader->readTrees({prefix})).front().pairs);
      return std::move(TRY(cluster.kv().listBlocking(prefix, 0, 0, nullptr, kv::ConsulClient::ReadFrom::Leader)).pairs);
    }();
    if (!r) {
      log::warn("reading the names of '" + net + "' for a query: " + r.error().msg);
      failingUntil = Clock::now() + kReadBackoff;
      continue;
    }
    log::debug("read the names of '" + net + "' for held queries in " +
               std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()) +
               " ms");
    out.emplace(net, std::move(*r));
  }
  return out;
}

// When the names thread must look again: the next wanted network's read is allowed, or a listing held back
// by a read may be applied.
std::optional<Clock::time_point> nextLook(WantedReads& wanted, const std::map<std::string, Clock::time_point>& readTat,
                                          const std::map<std::string, Followed>& followed) {
  std::optional<Clock::time_point> at;
  auto take = [&](Clock::time_point t) { at = at ? std::min(*at, t) : t; };
  {
    std::lock_guard lk(wanted.mu);
    for (const auto& net : wanted.nets) {
      auto tat = readTat.find(net);
      take(tat == readTat.end() ? Clock::now() : tat->second - (kReadBurst - 1) * kReadSpacing);
    }
  }
  for (const auto& [net, f] : followed)
    if (f.behind && f.readAt) take(*f.readAt + kReadHold);
  return at;
}

// Keeps the server's NameTable in step with the attachments of the networks it serves: from the watcher's
// listings where it shares them, else one blocking query per network (P/attachments/<net>/), so a change
// on a network no container here is on wakes nothing. While the store is away, or a network moves from
// one source to the other, the last names known are answered.
void followNames(model::Cluster& cluster, Server& server, const std::string& linkPath) {
  kv::ChangeFeed feed(cluster.kv().config());
  server.onNetworksChanged([&feed] { feed.poke(); });
  std::optional<model::ListingClient> link;
  if (!linkPath.empty()) link.emplace(linkPath, [&feed] { feed.poke(); });
  const model::Keys& keys = cluster.keys();
  Sources sources;
  std::set<std::string> reported;  // malformed records logged already: each once while it stays
  std::map<std::string, Followed> followed;  // each served network's records, as last parsed
  std::optional<std::vector<std::shared_ptr<const NameTable>>> published;  // the tables last combined
  WantedReads wanted;
  // Reads for held queries go to the leader's own address (kv/leader_reader.hpp): a follower would forward
  // them, and the first server of the list is the one every daemon's blocking queries keep busy.
  auto leader = kv::LeaderReader::start(cluster.kv().config());
  if (!leader) log::warn("reads for held queries go in the list's order: " + leader.error().msg);
  std::map<std::string, Clock::time_point> readTat;
  std::optional<Clock::time_point> failingUntil;
  // The served networks' tables, combined, to the server (true), unless every one is as last published.
  auto publishTables = [&](const std::set<std::string>& served) {
    std::vector<std::shared_ptr<const NameTable>> tables;
    for (const auto& net : served)
      if (auto f = followed.find(net); f != followed.end() && f->second.names.table())
        tables.push_back(f->second.names.table());
    if (published == tables) return false;
    published = tables;
    auto table = std::make_shared<const NameTable>(NameTable::combine(tables));
    std::set<std::string> malformed(table->malformed().begin(), table->malformed().end());
    for (const auto& m : malformed)
      if (!reported.count(m)) log::warn("ignoring " + m + ": its names are not answered");
    reported = std::move(malformed);
    server.publish(std::move(table));
    return true;
  };
  server.onUnknownName([&](const std::set<std::string>& nets) {
    {
      std::lock_guard lk(wanted.mu);
      wanted.nets.insert(nets.begin(), nets.end());
    }
    feed.poke();
  });
  bool first = true;
  while (!stopping) {
    kv::ChangeFeed::Changes got;
    auto timeout = std::chrono::milliseconds(5000);
    if (auto at = nextLook(wanted, readTat, followed))
      timeout = std::clamp(std::chrono::ceil<std::chrono::milliseconds>(*at - Clock::now()), std::chrono::milliseconds(0), timeout);
    if (!first) got = feed.wait(timeout, stopping);
    const auto served = server.servedNetworks();
    std::map<std::string, model::ListingClient::Shared> shared;
    Sources now;
    for (const auto& net : served) {
      if (auto l = link ? link->latest(net) : std::nullopt) now.shared.insert(net), shared.emplace(net, std::move(*l));
      else now.asked.insert(keys.attachmentsOf(net));
    }
    const bool moved = now != sources;
    if (moved) {
      for (const auto& net : now.shared)
        if (!sources.shared.count(net)) log::info("names of '" + net + "' from overlay watch's listings");
      for (const auto& p : now.asked)
        if (!sources.asked.count(p)) log::info("names of " + p + " from the store");
      if (now.asked != sources.asked) feed.follow(now.asked);
      sources = std::move(now);
    }
    std::map<std::string, Clock::time_point> done;  // reads for held queries, by when they started
    // A nearer server's listing that is newer than what the network's names were made from: published at
    // once, and the held queries it names are answered (readsDone with no read done: none gets NXDOMAIN).
    auto early = [&](const std::string& net, const std::vector<kv::KvPair>& pairs) {
      auto f = followed.find(net);
      if (f == followed.end() || newestOf(pairs) <= f->second.newest) return;
      f->second.names.update(keys, model::viewsOf(pairs));
      f->second.newest = newestOf(pairs);
      if (publishTables(served)) server.readsDone({});
    };
    auto reads = readWanted(cluster, leader ? leader->get() : nullptr, wanted, served, readTat, failingUntil, done,
                            early);
    const auto at = Clock::now();
    const bool heldBack = std::any_of(followed.begin(), followed.end(), [&](const auto& kv) {
      return kv.second.behind && kv.second.readAt && at - *kv.second.readAt >= kReadHold;
    });
    if (got.prefixes.empty() && !got.local && !first && !moved && reads.empty() && !heldBack) {
      if (!done.empty()) server.readsDone(done);
      continue;
    }
    first = false;
    // Only the networks whose listing changed are looked at again, and in them only the changed records.
    for (const auto& net : served) {
      auto sh = shared.find(net);
      auto read = reads.find(net);
      refreshFollowed(keys, followed[net], sh != shared.end() ? &sh->second : nullptr, keys.attachmentsOf(net), got,
                      feed, read != reads.end() ? &read->second : nullptr, at);
    }
    std::erase_if(followed, [&](const auto& kv) { return !served.count(kv.first); });
    std::erase_if(readTat, [&](const auto& kv) { return !served.count(kv.first); });
    publishTables(served);
    if (!done.empty()) server.readsDone(done);  // after the table with what they found
  }
  server.onUnknownName(nullptr);
  server.onNetworksChanged(nullptr);
}

// Two descriptors per container (its namespace, its socket) and one per pending forward: the usual soft
// limit of 1024 runs out near 500 containers. Take what the hard limit allows.
void raiseFileLimit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) return;
  rl.rlim_cur = rl.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) log::warn(std::string("raising the open-file limit: ") + std::strerror(errno));
}

int run(int argc, char** argv) {
  log::init("overlay-resolver");
  if (!std::getenv("OVL_LOG_LEVEL")) log::setLevel(log::Level::Info);  // a daemon says what it changes
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::cout << "Usage: overlay-resolver [--help | --version]\n\n"
                   "Answers DNS queries from containers on overlay networks, at 127.0.0.11:53 (UDP and TCP)\n"
                   "inside each container the overlay plugin hands over, with the names recorded in the cluster\n"
                   "store.\n"
                   "Reads the node config ($OVL_NODE_CONFIG or /etc/cni/overlay-node.json).\n";
      return 0;
    }
    if (!std::strcmp(argv[i], "--version")) {
      std::cout << "overlay-resolver " << buildVersion() << "\n";
      return 0;
    }
    std::cerr << "overlay-resolver: unknown argument '" << argv[i] << "' (try --help)\n";
    return 2;
  }
  raiseFileLimit();
  auto node = kv::loadNodeConfig();
  if (!node) return log::error(node.error().msg), 1;
  auto opts = options(*node);
  if (!opts) return log::error(opts.error().msg), 1;
  auto store = kv::resolveStore(nullptr, "", *node, true);
  if (!store) return log::error(store.error().msg), 1;
  if (store->kind != kv::StoreSpec::Consul)
    return log::error("overlay-resolver needs \"store\" in the node config"), 1;
  auto cluster = model::Cluster::connect(store->consul);
  if (!cluster) return log::error(cluster.error().msg), 1;
  const std::string stateDir = opts->stateDir;
  auto server = Server::start(std::move(*opts));
  if (!server) return log::error(server.error().msg), 1;

  struct sigaction sa{};
  sa.sa_handler = onSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  log::info("listening for containers on " + (*server)->socketPath());
  // Worked out here, in the host's network namespace: the socket is per host netns.
  std::string linkPath;
  if (auto path = model::listingSocketPath(stateDir)) linkPath = std::move(*path);
  else log::warn(path.error().msg + "; names come from the store only");
  std::thread names([&] { followNames(*cluster, **server, linkPath); });
  (*server)->run(stopping);
  // The names thread may sit in a Consul blocking query for seconds more; it holds nothing that needs
  // more than the process exit to release, so do not wait for it. The server stays whole until the exit
  // (the thread may still publish to it); only its control socket goes now.
  (*server)->removeSocket();
  names.detach();
  ::_exit(0);
}

}  // namespace
}  // namespace ovl::resolver

int main(int argc, char** argv) { return ovl::resolver::run(argc, argv); }
