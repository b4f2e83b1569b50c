#include "overlay/watch_metrics.hpp"

#include <linux/neighbour.h>


#include "metrics/call_file.hpp"
#include "metrics/exposition.hpp"
#include "metrics/recorder.hpp"
#include "metrics/resolver_counters.hpp"
#include "model/cluster.hpp"
#include "nfnl/listing.hpp"
#include "nfnl/ruleset_counts.hpp"
#include "nl/fdb.hpp"
#include "nl/neigh.hpp"
#include "nl/socket.hpp"
#include "util/log.hpp"
#include "vxlan/datapath.hpp"
#include "vxlan/vni_cache.hpp"

namespace ovl::overlay {
namespace {

using metrics::GaugeSample;

struct NetFigures {
  std::vector<GaugeSample> members, flood, fdb, neigh, poolSize, poolUsed;
};

double addrValue(const IpAddr& a) {
  double v = 0;
  for (int i = 0; i < a.byteLen(); ++i) v = v * 256 + a.bytes()[i];
  return v;
}

// Addresses overlay-ipam may hand out in the network's subnets: the ranges without the gateway.
double poolSize(const model::NetworkDef& def) {
  double n = 0;
  for (auto s : def.subnets) {
    if (!s.ipRange) s.ipRange = s.subnet;
    auto [first, last] = model::rangeBounds(s);
    n += addrValue(last) - addrValue(first) + 1;
    const IpAddr gw = s.gateway.value_or(s.subnet.addr().next());
    if (!(gw < first) && !(last < gw)) n -= 1;
  }
  return n;
}

void storeFigures(model::Cluster& c, const std::string& net, NetFigures& f) {
  const metrics::Labels l{{"network", net}};
  auto st = c.readNetwork(net);
  if (!st) return log::debug("metrics: network '" + net + "': " + st.error().msg + ", ignoring");
  f.members.push_back({l, double(st->members.size())});
  // A network defined only by its conflists has no subnets in the store: its pool's size is not known here.
  if (st->def && !st->def->subnets.empty()) f.poolSize.push_back({l, poolSize(*st->def)});
  // overlay-ipam's pool is named after the network unless a conflist names another (not counted then).
  if (auto keys = c.kv().keys(c.keys().leases(net))) f.poolUsed.push_back({l, double(keys->size())});
}

void kernelFigures(nl::Socket& s, const std::string& net, uint32_t vni, NetFigures& f) {
  const metrics::Labels l{{"network", net}};
  auto dev = vxlan::findNetDevices(s, vni);
  if (!dev || !*dev) return;
  if (auto fdb = nl::dumpFdb(s, (*dev)->vxlan.index)) {
    double flood = 0, total = 0;
    for (const auto& e : *fdb) {
      if (e.ifindex != (*dev)->vxlan.index) continue;
      ++total;
      if (e.mac.isZero() && e.dst) ++flood;
    }
    f.flood.push_back({l, flood});
    f.fdb.push_back({l, total});
  }
  if (auto n = nl::dumpNeighs(s, (*dev)->bridge.index)) f.neigh.push_back({l, double(n->size())});
}

// Rules per table and elements per set of the host's ruleset (families inet, ip, ip6, bridge): netlink
// dumps; on any error the families are left out.
void nftFigures(metrics::Exposition& e) {
  auto listing = nfnl::listRuleset(true);
  if (!listing) return log::debug("metrics: nftables: " + listing.error().msg + ", ignoring");
  const auto counts = nfnl::countRuleset(*listing);
  std::vector<GaugeSample> rules, elements;
  for (const auto& [k, n] : counts.rules) rules.push_back({{{"family", k.first}, {"table", k.second}}, double(n)});
  for (const auto& [k, n] : counts.elements)
    elements.push_back(
        {{{"family", std::get<0>(k)}, {"table", std::get<1>(k)}, {"set", std::get<2>(k)}}, double(n)});
  e.family("overlay_cni_nftables_rules", "gauge", "nftables rules on this host, per table.", rules);
  e.family("overlay_cni_nftables_set_elements", "gauge", "Elements of each nftables set or map on this host.",
           elements);
}

// overlay-resolver's counters, from the file it counts into (none when no resolver ran on this host).
void resolverFigures(metrics::Exposition& e, const std::string& stateDir) {
  auto path = metrics::resolverCountersFile(stateDir);
  auto counts = path ? metrics::readResolverCounters(*path)
                     : Result<std::optional<metrics::ResolverCounts>>(fail(path.error()));
  if (!counts) return log::debug("metrics: resolver: " + counts.error().msg + ", ignoring");
  if (*counts) metrics::exposeResolver(e, **counts);
}

struct Source {
  std::string stateDir;
  std::optional<model::Cluster> cluster;  // this thread's own client
  kv::ConsulConfig consul;
  std::shared_ptr<const HealthFigures> health;
  std::shared_ptr<const MissFigures> misses;
  std::shared_ptr<const std::atomic<uint64_t>> feedBehind;

  std::string render() {
    metrics::Exposition e;
    auto file = metrics::hostMetricsFile(stateDir);
    auto contents = file ? metrics::readFile(*file) : Result<metrics::Contents>(fail(file.error()));
    if (contents) e.calls(*contents);
    else log::debug("metrics: " + contents.error().msg + ", ignoring");
    if (!cluster)
      if (auto c = model::Cluster::connect(consul)) cluster.emplace(std::move(*c));
    NetFigures f;
    auto s = nl::Socket::open();
    for (const auto& [net, vni] : vxlan::rememberedNetworks(stateDir)) {
      if (cluster) storeFigures(*cluster, net, f);
      if (s) kernelFigures(*s, net, vni, f);
    }
    e.family("overlay_cni_network_members", "gauge", "Hosts that are members of the network, per the store.", f.members);
    e.family("overlay_cni_network_flood_entries", "gauge",
             "Remote VTEPs in the network's VXLAN flood list on this host.", f.flood);
    e.family("overlay_cni_network_fdb_entries", "gauge", "FDB entries of the network's VXLAN device on this host.",
             f.fdb);
    e.family("overlay_cni_network_neighbour_entries", "gauge",
             "Neighbour entries on the network's bridge on this host.", f.neigh);
    e.family("overlay_cni_ipam_pool_addresses", "gauge",
             "Addresses overlay-ipam may hand out in the network's subnets (gateway excluded).", f.poolSize);
    e.family("overlay_cni_ipam_pool_addresses_in_use", "gauge", "Addresses of the network's pool leased, cluster-wide.",
             f.poolUsed);
    nftFigures(e);
    if (health) exposeHealth(e, health->get());
    if (misses) exposeMisses(e, *misses);
    if (feedBehind)
      e.family("overlay_cni_watch_follower_behind_total", "counter",
               "Answers of a Consul follower to the watcher's blocking queries (consul.watchReads auto or any) that were "
               "older than the listing it held: dropped, the next read was the leader's. Growing steadily: the "
               "followers lag more than the burst window, and watchReads leader may serve this cluster better.",
               std::vector<metrics::GaugeSample>{{{}, double(feedBehind->load())}});
    resolverFigures(e, stateDir);
    return e.text();
  }
};

}  // namespace

Result<std::unique_ptr<metrics::HttpServer>> startMetrics(const kv::NodeConfig& node, const kv::StoreSpec& store,
                                                          const std::string& stateDir,
                                                          std::shared_ptr<const HealthFigures> health,
                                                          std::shared_ptr<const MissFigures> misses,
                                                          std::shared_ptr<const std::atomic<uint64_t>> feedBehind) {
  if (!node.metricsListen) return std::unique_ptr<metrics::HttpServer>();
  auto src = std::make_shared<Source>();
  src->stateDir = stateDir;
  src->consul = store.consul;
  src->health = std::move(health);
  src->misses = std::move(misses);
  src->feedBehind = std::move(feedBehind);
  auto server = TRY(metrics::HttpServer::start(*node.metricsListen, [src] { return src->render(); }));
  log::info("serving metrics on http://" + node.metricsListen->str() + "/metrics");
  return server;
}

}  // namespace ovl::overlay
