#include "overlay/health_mesh.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <set>

#include "model/cluster.hpp"
#include "model/health.hpp"
#include "nl/addr.hpp"
#include "nl/fdb.hpp"
#include "nl/neigh.hpp"
#include "nl/vxlan.hpp"
#include "overlay/health_probe.hpp"
#include "overlay/health_state.hpp"
#include "util/log.hpp"
#include "vxlan/allow_list.hpp"
#include "vxlan/datapath.hpp"
#include "vxlan/names.hpp"

namespace ovl::overlay {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kRound = std::chrono::seconds(1);
constexpr unsigned kSizeEvery = 5;         // size probes every 5th round
constexpr int64_t kRepublishSeconds = 30;  // the report is rewritten at least this often
constexpr unsigned kMaxPeersPerRound = 100;  // bounds the probes: at most ~3 x 100 per second (planRound)

int64_t nowSeconds() { return int64_t(std::time(nullptr)); }

// A new network namespace that only this fd holds. The calling thread goes back to its namespace; if it
// cannot, the process aborts rather than keep running in the wrong one.
Result<UniqueFd> makeNetns() {
  UniqueFd original(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!original) return fail(sysError(errno, "opening the current network namespace"));
  if (::unshare(CLONE_NEWNET) < 0) return fail(sysError(errno, "creating the health namespace"));
  UniqueFd made(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  const int err = errno;
  if (::setns(original.get(), CLONE_NEWNET) < 0) std::abort();
  if (!made) return fail(sysError(err, "opening the health namespace"));
  return made;
}

}  // namespace

std::vector<HealthTarget> healthTargets(const std::map<std::string, std::vector<model::Member>>& members,
                                        const std::string& self) {
  std::map<std::string, HealthTarget> by;
  for (const auto& [net, ms] : members) {
    auto me = std::find_if(ms.begin(), ms.end(), [&](const model::Member& m) { return m.host == self; });
    if (me == ms.end()) continue;  // not a network of this host: its hosts are no peers of ours
    const unsigned selfMtu = me->mtu;
    for (const auto& m : ms) {
      if (m.host == self) continue;
      const unsigned mtu = selfMtu && m.mtu ? std::min(selfMtu, m.mtu) : std::max(selfMtu, m.mtu);
      auto& t = by[m.host];
      t.host = m.host;
      t.vtep = m.vtep;
      t.mtu = std::max(t.mtu, mtu);
    }
  }
  std::vector<HealthTarget> out;
  for (auto& [h, t] : by) out.push_back(std::move(t));
  return out;
}

// What the probing thread holds once set up.
struct HealthMesh::State {
  std::optional<model::Cluster> cluster;
  std::optional<vxlan::AllowList> allow;
  std::optional<Prober> prober;
  UniqueFd netns;
  IpAddr vtep;
  model::HealthHost self;
  int device = 0;  // ovx-hc's index in the health namespace
  std::map<std::string, model::HealthHost> records;  // the probed peers' health records
  std::map<std::string, model::PairHealth> pairs;
  std::map<std::string, bool> known;
  std::map<std::string, PeerFigures> figures;  // the probe counts; the rest is filled in from `pairs`
  std::vector<HealthTarget> targets;
  uint64_t generation = ~uint64_t(0);
  unsigned round = 0;
  int64_t published = 0;
};

namespace {

Result<void> setUp(const HealthMesh::Config& c, auto& st) {
  st.cluster = TRY(model::Cluster::connect(c.consul));
  auto s = TRY(nl::Socket::open());
  auto underlay = TRY(vxlan::resolveUnderlay(s, c.advertise));
  st.vtep = underlay.vtep;
  st.self = TRY(model::ensureHealthHost(st.cluster->kv(), st.cluster->keys(), c.host, underlay.vtep, c.subnet));
  st.netns = TRY(makeNetns());
  TRY_VOID(nl::deleteLink(s, vxlan::kHealthVxlanName));  // left by a watcher of this namespace that crashed
  nl::VxlanSpec vs;
  vs.name = vxlan::kHealthVxlanName;
  vs.vni = c.vni;
  vs.local = underlay.vtep;
  vs.underlayIndex = underlay.ifindex;
  vs.port = c.port;
  vs.learning = false;
  vs.mtu = underlay.mtu - 50;  // VXLAN over IPv4
  vs.mac = st.self.mac;
  vs.ipv6 = nl::HostIpv6::Off;
  auto vx = TRY(nl::ensureVxlan(s, vs));
  TRY_VOID(nl::moveLinkToNetns(s, vx.link.index, st.netns.get()));
  auto hs = TRY(nl::Socket::openInNetns(st.netns.get()));
  auto dev = TRY(nl::requireLink(hs, vxlan::kHealthVxlanName));
  st.device = dev.index;
  TRY_VOID(nl::addAddress(hs, dev.index, IpNet(st.self.addr, c.subnet.prefix()), true));
  TRY_VOID(nl::setLinkUp(hs, dev.index, true));
  st.allow = TRY(vxlan::AllowList::open());
  st.prober = TRY(Prober::open(st.netns.get()));
  log::info("health: probing from " + st.self.addr.str() + " on vni " + std::to_string(c.vni));
  return {};
}

// Reads the peers' health records and makes the neighbour and FDB entries and the allow-list hold them.
Result<void> syncPeers(const HealthMesh::Config& c, auto& st) {
  auto listing = TRY(st.cluster->kv().list(st.cluster->keys().healthHosts()));
  std::map<std::string, model::HealthHost> all;
  for (const auto& p : listing) {
    auto k = st.cluster->keys().classify(p.key);
    if (k.kind != model::Keys::Kind::HealthHost) continue;
    if (auto h = model::parseHealthHost(p.key, k.host, p.value)) all[k.host] = *h;
  }
  auto hs = TRY(nl::Socket::openInNetns(st.netns.get()));
  std::map<std::string, model::HealthHost> want;
  std::vector<model::Member> allowed;
  for (const auto& t : st.targets) {
    auto it = all.find(t.host);
    if (it == all.end()) continue;  // its watcher has not started yet
    want[t.host] = it->second;
    allowed.push_back(model::Member{t.host, it->second.vtep, c.port, c.vni, 0, 0});
  }
  for (const auto& [h, r] : st.records)
    if (!want.count(h) || !(want[h].addr == r.addr) || !(want[h].mac == r.mac)) {
      (void)nl::deleteNeigh(hs, st.device, r.addr);
      (void)nl::deleteFdb(hs, st.device, r.mac, std::nullopt);
    }
  for (const auto& [h, r] : want) {
    TRY_VOID(nl::replaceFdb(hs, st.device, r.mac, r.vtep));
    TRY_VOID(nl::addNeigh(hs, st.device, r.addr, r.mac, true));
  }
  TRY_VOID(st.allow->sync(c.vni, st.vtep, allowed, vxlan::FloodSync::Exact));
  st.records = std::move(want);
  for (auto it = st.pairs.begin(); it != st.pairs.end();)
    it = st.records.count(it->first) ? std::next(it)
                                     : (st.known.erase(it->first), st.figures.erase(it->first), st.pairs.erase(it));
  return {};
}

// One round: probes, waits for the answers, applies them. Returns whether the report must be written.
bool probeRound(const HealthMesh::Config& c, auto& st, Clock::time_point deadline) {
  // The peers with a record, in the targets' order; of them, this round's window.
  std::vector<const HealthTarget*> probed;
  for (const auto& t : st.targets)
    if (st.records.count(t.host)) probed.push_back(&t);
  const RoundPlan plan = planRound(probed.size(), st.round, kMaxPeersPerRound, kSizeEvery);
  // Sizes every kSizeEvery visits of a window, and while a pair has no figure yet.
  const bool sizes = plan.sizes || st.pairs.size() < st.records.size() ||
                     std::any_of(st.pairs.begin(), st.pairs.end(), [](const auto& p) { return p.second.largest == 0; });
  const uint16_t base = uint16_t(st.round * 4);
  std::map<IpAddr, std::string> byAddr;
  std::map<std::string, Clock::time_point> sent;
  for (size_t i = plan.first; i < plan.end; ++i) {
    const HealthTarget& t = *probed[i];
    auto r = st.records.find(t.host);
    byAddr[r->second.addr] = t.host;
    sent[t.host] = Clock::now();
    auto ok = st.prober->send(r->second.addr, base, probeSize(Probe::Echo, t.mtu));
    if (!ok) log::warn("health: " + ok.error().msg);
    auto& p = st.pairs[t.host];
    p.peer = t.host;
    p.mtu = t.mtu;
    for (Probe k : {Probe::AtMtu, Probe::AtMin})
      if (const unsigned size = sizes ? probeSize(k, t.mtu) : 0)
        (void)st.prober->send(r->second.addr, uint16_t(base + unsigned(k)), size);
  }
  std::map<std::string, double> rtt;
  std::map<std::string, unsigned> largest;
  for (const auto& e : st.prober->receive(deadline)) {
    auto h = byAddr.find(e.from);
    if (h == byAddr.end() || uint16_t(e.seq - base) > 2) continue;
    const auto kind = Probe(uint16_t(e.seq - base));
    if (kind == Probe::Echo)
      rtt[h->second] = std::chrono::duration<double, std::milli>(e.at - sent[h->second]).count();
    const unsigned size = probeSize(kind, st.pairs[h->second].mtu);
    largest[h->second] = std::max(largest[h->second], size);
  }
  bool changed = false;
  const int64_t now = nowSeconds();
  for (const auto& [host, at] : sent) {
    auto& p = st.pairs[host];
    auto r = rtt.find(host);
    auto& f = st.figures[host];
    f.peer = host;
    ++f.probes;
    if (r == rtt.end()) ++f.lost;
    auto t = onRound(p, st.known[host], r == rtt.end() ? std::nullopt : std::optional<double>(r->second), now);
    if (t != Transition::None) {
      log::info(describe(t, c.host, p));
      changed = true;
    }
    if (sizes && r != rtt.end() && largest[host] != p.largest) {
      if (p.largest) log::info("health: " + c.host + " -> " + host + " largest packet " +
                               std::to_string(largest[host]) + " bytes (was " + std::to_string(p.largest) + ")");
      p.largest = largest[host];
      changed = true;
    }
  }
  ++st.round;
  return changed;
}

// A copy of the figures for the metrics endpoint.
void share(const HealthMesh::Config& c, auto& st) {
  if (!c.figures) return;
  std::vector<PeerFigures> out;
  for (auto& [host, f] : st.figures) {
    auto p = st.pairs.find(host);
    if (p == st.pairs.end()) continue;
    f.known = st.known[host];
    f.up = p->second.up;
    f.rttSeconds = p->second.rttMs / 1000;
    f.largest = p->second.largest;
    out.push_back(f);
  }
  c.figures->set(std::move(out));
}

void publish(const HealthMesh::Config& c, auto& st) {
  model::HealthReport rep{c.host, nowSeconds(), {}};
  for (const auto& [h, p] : st.pairs)
    if (st.known[h]) rep.pairs.push_back(p);
  if (auto r = st.cluster->kv().put(st.cluster->keys().healthReport(c.host), model::toJson(rep)); !r)
    return log::warn("health: writing the report: " + r.error().msg);
  st.published = rep.time;
}

}  // namespace

HealthMesh::HealthMesh(Config c) : cfg_(std::move(c)) { thread_ = std::thread([this] { run(); }); }

HealthMesh::~HealthMesh() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void HealthMesh::setTargets(std::vector<HealthTarget> t) {
  std::lock_guard g(mu_);
  if (t == targets_) return;
  targets_ = std::move(t);
  ++generation_;
}

void HealthMesh::run() {
  State st;
  bool ready = false;
  std::string lastError;
  while (!stop_) {
    const auto deadline = Clock::now() + kRound;
    if (!ready) {
      st = State{};
      auto r = setUp(cfg_, st);
      if (!r && r.error().msg != lastError) log::warn("health: " + (lastError = r.error().msg) + "; retrying");
      ready = bool(r);
      if (!ready) {
        std::this_thread::sleep_until(deadline + kRound);
        continue;
      }
    }
    bool resync = st.round % 10 == 0;
    {
      std::lock_guard g(mu_);
      if (generation_ != st.generation) st.targets = targets_, st.generation = generation_, resync = true;
    }
    if (resync)
      if (auto r = syncPeers(cfg_, st); !r) log::warn("health: " + r.error().msg);
    const bool changed = probeRound(cfg_, st, deadline);
    share(cfg_, st);
    if (changed || nowSeconds() - st.published >= kRepublishSeconds) publish(cfg_, st);
  }
  if (!ready) return;
  (void)st.cluster->kv().deleteKey(st.cluster->keys().healthReport(cfg_.host));
  (void)st.allow->forget(cfg_.vni);
}

}  // namespace ovl::overlay
