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
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "kv/change_feed.hpp"
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

// One served network's names, and where its latest listing came from.
struct Followed {
  NetworkNames names;
  std::optional<uint64_t> sharedVersion;  // the watcher's listing its table was made from, while shared
};

// Brings the network's names up to date with its latest listing: the watcher's (`shared`, parsed again
// only when a newer one came), else the store's for `prefix`, when it changed or nothing was had yet.
void refreshFollowed(const model::Keys& keys, Followed& f, const model::ListingClient::Shared* shared,
                     const std::string& prefix, kv::ChangeFeed::Changes& got, kv::ChangeFeed& feed) {
  const bool had = f.names.table() != nullptr;
  if (shared) {
    if (!had || f.sharedVersion != shared->version) f.names.update(keys, shared->listing->records());
    f.sharedVersion = shared->version;
    return;
  }
  f.sharedVersion.reset();
  std::optional<std::vector<kv::KvPair>> asked;
  if (auto changed = got.prefixes.find(prefix); changed != got.prefixes.end()) asked = std::move(changed->second);
  else if (!had) asked = feed.latest(prefix);
  if (asked) f.names.update(keys, model::viewsOf(*asked));
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
  bool first = true;
  while (!stopping) {
    kv::ChangeFeed::Changes got;
    if (!first) got = feed.wait(std::chrono::milliseconds(5000), stopping);
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
    if (got.prefixes.empty() && !got.local && !first && !moved) continue;
    first = false;
    // Only the networks whose listing changed are looked at again, and in them only the changed records.
    std::vector<std::shared_ptr<const NameTable>> tables;
    for (const auto& net : served) {
      auto sh = shared.find(net);
      Followed& f = followed[net];
      refreshFollowed(keys, f, sh != shared.end() ? &sh->second : nullptr, keys.attachmentsOf(net), got, feed);
      if (f.names.table()) tables.push_back(f.names.table());
    }
    std::erase_if(followed, [&](const auto& kv) { return !served.count(kv.first); });
    if (published == tables) continue;  // every network's table as it was: the server has it already
    published = tables;
    auto table = std::make_shared<const NameTable>(NameTable::combine(tables));
    std::set<std::string> malformed(table->malformed().begin(), table->malformed().end());
    for (const auto& m : malformed)
      if (!reported.count(m)) log::warn("ignoring " + m + ": its names are not answered");
    reported = std::move(malformed);
    server.publish(std::move(table));
  }
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
  log::setLevel(log::Level::Info);
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
  server->reset();  // removes the control socket
  // The names thread may sit in a Consul blocking query for seconds more; it holds nothing that needs
  // more than the process exit to release, so do not wait for it.
  names.detach();
  ::_exit(0);
}

}  // namespace
}  // namespace ovl::resolver

int main(int argc, char** argv) { return ovl::resolver::run(argc, argv); }
