#include "overlay/watch.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <set>
#include <map>
#include <atomic>
#include <mutex>
#include <cstdio>
#include <cstring>

#include "kv/change_feed.hpp"
#include "kv/leader_reader.hpp"
#include "kv/node_config.hpp"
#include "model/cluster.hpp"
#include "model/health.hpp"
#include "model/identity.hpp"
#include "model/memory.hpp"
#include "model/restore.hpp"
#include "model/listing_link.hpp"
#include "nfnl/batch.hpp"
#include "nl/socket.hpp"
#include "nl/vxlan.hpp"
#include "overlay/config.hpp"
#include "overlay/health_mesh.hpp"
#include "overlay/liveness.hpp"
#include "overlay/miss_answerer.hpp"
#include "overlay/miss_figures.hpp"
#include "overlay/miss_policy.hpp"
#include "overlay/teardown.hpp"
#include "overlay/watch_metrics.hpp"
#include "util/log.hpp"
#include "vxlan/allow_list.hpp"
#include "vxlan/datapath.hpp"
#include "vxlan/names.hpp"
#include "vxlan/peers.hpp"
#include "vxlan/arp_reports.hpp"
#include "vxlan/misses.hpp"
#include "vxlan/vni_cache.hpp"
#include "vxlan/watch_lock.hpp"

namespace ovl::overlay {
namespace {

std::atomic<bool> stopping{false};

void onSignal(int) { stopping = true; }

struct Watcher {
  kv::NodeConfig node;
  OverlayConf conf;  // store, advertise, port, hostName, stateDir
  std::optional<model::Cluster> cluster;
  std::optional<vxlan::AllowList> allow;
  bool enforcing = false;  // this watcher installed the allow-list's dropping chain
  bool once = false;       // --once: one reconcile, no peer entries (nothing would keep them)
  // What a listing looked like when it was applied: its largest ModifyIndex and its number of keys (a
  // deletion, e.g. `overlayctl hosts evict`, lowers the count).
  using ListingMark = std::pair<uint64_t, size_t>;
  static ListingMark mark(const std::vector<kv::KvPair>& pairs) {
    uint64_t max = 0;
    for (const auto& p : pairs) max = std::max(max, p.modifyIndex);
    return {max, pairs.size()};
  }
  // What the flood list and allow-list of a network were made from (its P/networks/<net>/ listing and its
  // bridge), and what its peer entries were (that, and its P/attachments/<net>/ listing).
  struct Seen {
    ListingMark members, attachments;
    int bridge = 0;
    bool operator==(const Seen&) const = default;
  };
  std::map<std::string, Seen> membersSeen, peersSeen;
  // The peer entries each network's last full sync left, on which devices: what a change of its
  // attachments alone is applied to (applyPeers), with no reading back from the kernel.
  struct Installed {
    vxlan::NetDevices dev;
    std::vector<vxlan::Peer> peers;
    uint32_t vni = 0;
    IpAddr vtep;  // this host's, when the full pass made the flood list and allow-list exact
  };
  std::map<std::string, Installed> installed;
  vxlan::Announcer announcer;  // tells this host's containers of addresses that moved to another MAC
  // Tells ADDs that a watcher runs here (an ADD removes the ARP reports of one that died: vxlan/watch_lock.hpp).
  // Released at a clean exit after the reports were removed.
  vxlan::WatchLock watchLock;
  std::unique_ptr<vxlan::MissListener> misses;
  // Answers reports from the feed's latest listings on a thread of its own; hands the loop what it cannot
  // (overlay/miss_answerer.hpp). Without it (it could not start) the loop takes the listener's reports.
  std::unique_ptr<MissAnswerer> answerer;
  // Reads that must be the leader's, sent to its own address (the answerer's, and the first listings of the
  // networks this host joins); none with --once.
  std::shared_ptr<kv::LeaderReader> leaderReads;
  // What a report wakes: the feed follow() waits on, while it exists (set and woken under the lock).
  struct Waker {
    std::mutex mu;
    kv::ChangeFeed* feed = nullptr;
    void set(kv::ChangeFeed* f) {
      std::lock_guard lk(mu);
      feed = f;
    }
    void wake() {
      std::lock_guard lk(mu);
      if (feed) feed->wake();
    }
  };
  std::unique_ptr<Waker> waker = std::make_unique<Waker>();
  MissPolicy missPolicy;
  // Per prefix (a network's members or attachments): the X-Consul-Index of the last leader listing a report
  // had applied. A listing of the feed that is not newer (a stale read in a burst) would take back what that
  // applied: it is skipped.
  std::map<std::string, uint64_t> answeredAt;
  std::map<std::string, std::set<IpAddr>> localAddrs;  // this host's containers' addresses, per network
  std::shared_ptr<MissFigures> missCounts = std::make_shared<MissFigures>();  // also served as metrics
  // The feed's follower answers older than the listing held (kv::FeedAnswer::Behind), served as a metric.
  std::shared_ptr<std::atomic<uint64_t>> feedBehind = std::make_shared<std::atomic<uint64_t>>(0);
  // Each network's attachment records as last parsed, by key, with the ModifyIndex they were parsed at: a
  // change of one record parses that one again, not the network's hundreds.
  std::map<std::string, std::map<std::string, std::pair<uint64_t, std::vector<model::AttachmentRecord>>>> parsed;
  // The records of the cache as they are (what a change of the members alone is applied with).
  std::vector<model::AttachmentRecord> cachedAttachments(const std::string& net) {
    std::vector<model::AttachmentRecord> out;
    for (const auto& [key, slot] : parsed[net]) out.insert(out.end(), slot.second.begin(), slot.second.end());
    return out;
  }
  std::vector<model::AttachmentRecord> attachmentsOf(const std::string& net, const std::vector<kv::KvPair>& pairs) {
    auto& before = parsed[net];
    std::map<std::string, std::pair<uint64_t, std::vector<model::AttachmentRecord>>> now;
    std::vector<model::AttachmentRecord> out;
    for (const auto& p : pairs) {
      auto it = before.find(p.key);
      auto& slot = now[p.key];
      if (it != before.end() && it->second.first == p.modifyIndex) slot = std::move(it->second);
      else slot = {p.modifyIndex, cluster->parseAttachments({p})};
      out.insert(out.end(), slot.second.begin(), slot.second.end());
    }
    before = std::move(now);
    return out;
  }
  std::set<std::string> reconciled;  // networks reconciled from a listing at least once

  // One network's listings: P/networks/<net>/ and, when the feed has it, P/attachments/<net>/ (else it is
  // listed when needed). `exact`: reconcile the flood list and allow-list even if the members did not change
  // (the periodic pass, which also repairs what someone else changed in the kernel).
  struct Listings {
    const std::vector<kv::KvPair>* network = nullptr;
    const std::vector<kv::KvPair>* attachments = nullptr;
    bool exact = true;
    uint64_t attachmentsIndex = 0;  // the X-Consul-Index of `attachments`
  };

  std::optional<IpAddr> vtepSeen;  // this host's VTEP address at the last housekeeping
  // This host's VTEP address moved since (DHCP, a new address): every network needs the full pass.
  bool vtepMoved() {
    auto s = nl::Socket::open();
    auto underlay = s ? vxlan::resolveUnderlay(*s, conf.advertise) : Result<vxlan::Underlay>(fail(s.error()));
    return underlay && vtepSeen && !(underlay->vtep == *vtepSeen);
  }

  Liveness liveness;                        // --once: kept on the loop
  std::unique_ptr<LivenessKeeper> keeper;  // else: on a thread of its own
  std::string machineId;                   // /etc/machine-id, read once
  // This host's underlay as last resolved, used by the passes of the next kUnderlayFor: resolving it takes
  // three netlink requests, at 50 hosts on one kernel 110 ms at the median (355 ms p90) in the bursts, before
  // each reconcile. A full pass resolves it afresh, and a reconcile that finds a VXLAN device sending from
  // another address fails instead of remaking it (the retry, a full pass, resolves it afresh): a cached
  // address never remakes a device.
  static constexpr std::chrono::seconds kUnderlayFor{10};
  std::optional<vxlan::Underlay> underlayKnown;
  std::chrono::steady_clock::time_point underlayAt;
  bool underlayFromCache = false;  // this pass's
  std::unique_ptr<model::ListingServer> share;  // the attachment listings handed to this host's overlay-resolver
  std::unique_ptr<HealthMesh> health;                         // not with --once
  std::map<std::string, std::vector<model::Member>> membersOf;  // of the local networks: the health mesh's peers

  Result<void> reconcileNetwork(nl::Socket& s, const vxlan::Underlay& underlay, const std::string& net, uint32_t vni,
                                const Listings& in) {
    auto lock = TRY(vxlan::HostLock::acquire(conf.stateDir, net));
    auto dev = TRY(vxlan::findNetDevices(s, vni));
    if (!dev || TRY(vxlan::countContainerPorts(s, *dev)) == 0) {
      membersOf.erase(net);
      installed.erase(net);
      unreportPort(vxlan::vxlanName(vni));
      return allow->forget(vni);
    }
    // This host's VTEP address changed (DHCP, a new advertise): the VXLAN device must send from the new one.
    if (auto vx = TRY(nl::findVxlan(s, vxlan::vxlanName(vni))); vx && !(vx->local == underlay.vtep)) {
      if (underlayFromCache) {
        underlayKnown.reset();
        return fail(Code::TryAgainLater, vxlan::vxlanName(vni) + " sends from " + vx->local.str() + ", not from " +
                                             underlay.vtep.str() + " as last resolved: resolving it again");
      }
      log::info("network '" + net + "': VTEP address changed from " + vx->local.str() + " to " +
                underlay.vtep.str() + ", recreating " + vxlan::vxlanName(vni));
      dev = TRY(vxlan::ensureNetDevices(s, vni, underlay, conf.port, vx->link.mtu));
    }
    const std::vector<kv::KvPair>& pairs = *in.network;
    const Seen seenMembers{mark(pairs), {}, dev->bridge.index};
    if (!in.exact && membersSeen.count(net) && membersSeen[net] == seenMembers && membersOf.count(net)) {
      // Only attachments changed: the flood list and allow-list stay as the last reconcile made them.
      return syncPeers(s, *dev, net, pairs, in.attachments, in.attachmentsIndex, false, vni, underlay.vtep);
    }
    auto st = model::parseNetworkListing(cluster->keys(), net, pairs);
    model::Member self{conf.hostName, underlay.vtep, conf.port, vni, dev->bridge.mtu, underlay.mtu};
    auto isSelf = [&](const model::Member& m) { return m.host == self.host && m.vtep == self.vtep; };
    bool present = std::any_of(st.members.begin(), st.members.end(), isSelf);
    if (!st.vni || !present) {
      // The feed's listing may come from a follower that has not applied this host's latest write yet (a
      // stale read lags by the replication delay): the leader's before anything is put back.
      st = TRY(cluster->readNetwork(net));
      present = std::any_of(st.members.begin(), st.members.end(), isSelf);
    }
    if (!st.vni || !present) {
      // The store lost our records (e.g. Consul restarted empty): restore them.
      TRY(cluster->ensureVni(net, vni, st));
      TRY_VOID(cluster->ensureMember(net, self));
      log::info("restored membership of " + self.host + " in '" + net + "'");
      st.members.push_back(self);
    }
    membersOf[net] = st.members;
    TRY_VOID(vxlan::reconcileFlood(s, dev->vxlan.index, underlay.vtep, st.members, vxlan::FloodSync::Exact));
    TRY_VOID(allow->sync(vni, underlay.vtep, st.members, vxlan::FloodSync::Exact));
    membersSeen[net] = seenMembers;
    if (once) return {};  // nothing would remove the peer entries of containers that leave
    return syncPeers(s, *dev, net, pairs, in.attachments, in.attachmentsIndex, in.exact, vni, underlay.vtep);
  }

  // The peer entries (neighbour and FDB) of the network's remote containers, read back from the kernel and made
  // exact: with `exact` always, else when its members, its attachments or its bridge changed since they were
  // synced. Without a listing of the attachments in hand, lists them. Call under the network's HostLock.
  Result<void> syncPeers(nl::Socket& s, const vxlan::NetDevices& dev, const std::string& net,
                         const std::vector<kv::KvPair>& network, const std::vector<kv::KvPair>* attachments,
                         uint64_t attachmentsIndex, bool exact, uint32_t vni, const IpAddr& vtep) {
    const Seen seen{mark(network), attachments ? mark(*attachments) : ListingMark{}, dev.bridge.index};
    if (!exact && attachments && peersSeen.count(net) && peersSeen[net] == seen) return {};
    // (Records listed here are not cached: the cache holds what the feed's listings said.)
    if (!attachments) parsed.erase(net);
    auto records = attachments ? attachmentsOf(net, *attachments) : TRY(cluster->listAttachments(net));
    auto view = remotePeers(records, membersOf[net]);
    installed.erase(net);
    localAddrs[net] = std::move(view.local);
    // A listing of our own is the leader's, newer than anything the answerer read.
    std::vector<vxlan::Peer> unused;
    const auto known = memberVteps(net);
    mergeInstalls(takeAnswered(net), attachments ? attachmentsIndex : UINT64_MAX, unused, view.peers, &known);
    auto synced = TRY(vxlan::syncPeers(s, dev, view.peers, announcer));
    installed[net] = Installed{dev, std::move(view.peers), vni, vtep};
    reportPort(vxlan::vxlanName(vni));
    announceAwaited(net);
    if (attachments) peersSeen[net] = seen;
    else peersSeen.erase(net);
    if (synced.added || synced.removed)
      log::debug("network '" + net + "': " + std::to_string(synced.added) + " remote containers known, " +
                 std::to_string(synced.removed) + " forgotten");
    return {};
  }

  // The VTEPs of the other members of `net` this loop knows: the answerer's installs on any other are of hosts
  // it joined before this loop did (mergeInstalls keeps them).
  std::set<IpAddr> memberVteps(const std::string& net) {
    std::set<IpAddr> out;
    if (auto it = membersOf.find(net); it != membersOf.end())
      for (const auto& m : it->second)
        if (m.host != conf.hostName) out.insert(m.vtep);
    return out;
  }

  // What the answerer installed on `net` since the last call (call under the network's HostLock).
  std::vector<MissAnswerer::Install> takeAnswered(const std::string& net) {
    return answerer ? answerer->takeInstalled(net) : std::vector<MissAnswerer::Install>{};
  }

  // Tells the answerer which networks are synced, on which devices, with which member hosts.
  void publishViews() {
    if (!answerer) return;
    std::map<std::string, MissAnswerer::View> views;
    for (const auto& [net, in] : installed) {
      auto members = membersOf.find(net);
      if (members == membersOf.end()) continue;
      MissAnswerer::View v{in.vni, in.dev, {}};
      for (const auto& m : members->second)
        if (m.host != conf.hostName) v.vtepOf.emplace(m.host, m.vtep);
      views.emplace(net, std::move(v));
    }
    answerer->publish(std::move(views));
  }

  // A network's containers as the watcher's entries need them.
  struct PeerView {
    std::vector<vxlan::Peer> peers;  // remote IPv4 addresses with their MAC and their host's VTEP
    std::set<IpAddr> local;          // this host's containers' addresses (a report for one is not a miss)
  };
  // (Attachments of hosts that are not members, or with malformed records, are left out of `peers`: a request
  // for one is flooded, or reported and read for.)
  PeerView remotePeers(const std::vector<model::AttachmentRecord>& atts, const std::vector<model::Member>& members) const {
    std::map<std::string, IpAddr> vtepOf;
    for (const auto& m : members)
      if (m.host != conf.hostName) vtepOf.emplace(m.host, m.vtep);
    PeerView out;
    for (const auto& a : atts) {
      auto vtep = vtepOf.find(a.host);
      auto mac = MacAddr::parse(a.mac);
      for (const auto& ip : a.ips) {
        auto n = IpNet::parse(ip, false);
        if (!n) continue;
        if (a.host == conf.hostName) out.local.insert(n->addr());
        else if (vtep != vtepOf.end() && mac && !n->addr().isV6()) out.peers.push_back({n->addr(), *mac, vtep->second});
      }
    }
    return out;
  }

  // At a clean exit: without a watcher nothing would remove the entries of containers that leave.
  void forgetPeers() {
    auto s = nl::Socket::open();
    if (!s) return log::error("watch: " + s.error().msg);
    for (const auto& [net, vni] : vxlan::rememberedNetworks(conf.stateDir)) {
      auto r = [&, &net = net, vni = vni]() -> Result<void> {
        auto lock = TRY(vxlan::HostLock::acquire(conf.stateDir, net));
        if (auto dev = TRY(vxlan::findNetDevices(*s, vni))) TRY_VOID(vxlan::clearPeers(*s, *dev));
        return {};
      }();
      if (!r) log::error("watch: network '" + net + "': " + r.error().msg);
    }
  }

  // ARP requests no entry of a synced network answers come to this watcher instead of flooding
  // (vxlan/arp_reports.hpp), from the first full sync of the network's entries until it leaves the host.
  // The table is made with the first port, after a bridge exists: a bridge-family chain registered before
  // the namespace's first bridge sees no packet, ever (kernel 6.18, checked by hand).
  bool reporting = false;
  std::set<std::string> reportedPorts;
  // Each full sync adds the port again (adding one there is success): a DEL that removed the network's
  // devices took it out of the set, and the watcher may not have noticed before an ADD made them again.
  void reportPort(const std::string& port) {
    if (!misses) return;
    nfnl::Batch b;
    if (!reporting) vxlan::addArpReports(b);
    vxlan::addArpReportPort(b, port);
    if (auto r = b.commit("reporting ARP requests on " + port); !r) {
      log::warn("watch: " + r.error().msg + " (" + r.error().details + "); ARP requests no entry answers flood");
      return;
    }
    if (!std::exchange(reporting, true))
      log::info("ARP requests no entry answers come to this watcher instead of flooding (table bridge " +
                std::string(vxlan::kArpTable) + ")");
    reportedPorts.insert(port);
  }
  void unreportPort(const std::string& port) {
    if (!reportedPorts.erase(port)) return;
    nfnl::Batch b;
    vxlan::addArpReportPortRemoved(b, port);
    if (auto r = b.commit("no longer reporting ARP requests on " + port); !r && r.error().sysErrno != ENOENT)
      log::warn("watch: " + r.error().msg + " (" + r.error().details + ")");
  }

  // At a clean exit, before the entries go: requests flood again.
  void unreport() {
    if (!reporting) return;
    nfnl::Batch b;
    vxlan::addArpReportsRemoved(b);
    if (auto r = b.commit("removing the ARP reports"); !r && r.error().sysErrno != ENOENT)
      log::error("watch: " + r.error().msg + " (" + r.error().details + ")");
    reporting = false;
    reportedPorts.clear();
  }

  // Once the sets hold exactly the members (a reconcile succeeded), VXLAN from anyone else is dropped.
  void enforce() {
    if (enforcing) return;
    if (auto r = allow->enforce(conf.port); !r) {
      log::warn("watch: " + r.error().msg + " (" + r.error().details + "); VXLAN from non-members is not dropped");
      return;
    }
    enforcing = true;
    log::info("VXLAN to port " + std::to_string(conf.port) + " is dropped unless it comes from a member of its VNI");
  }

  // At a clean exit: ADDs alone cannot admit a new member, so without a watcher nothing is dropped.
  void relax() {
    if (!enforcing) return;
    if (auto r = allow->relax(); !r) log::error("watch: " + r.error().msg + " (" + r.error().details + ")");
    else log::info("stopped dropping VXLAN from non-members: no watcher keeps the allow-list exact");
  }

  // What a wake does first: this host's claim on its name, its liveness session, the deletions kept during
  // an outage, and with `storeCheck` the store's identity (a store that forgot gets this host's records
  // back; `marker` is P/cluster as the change feed last saw it, nullptr to read it).
  Result<vxlan::Underlay> housekeeping(nl::Socket& s, bool storeCheck, const std::optional<kv::KvPair>* marker) {
    auto mem = TRY(model::HostMemory::open(conf.stateDir));
    if (storeCheck) TRY_VOID(model::ensureStoreRemembers(cluster->kv(), mem, false, marker));
    const auto now = std::chrono::steady_clock::now();
    underlayFromCache = !storeCheck && underlayKnown && now - underlayAt < kUnderlayFor;
    if (!underlayFromCache) underlayKnown = TRY(vxlan::resolveUnderlay(s, conf.advertise)), underlayAt = now;
    const vxlan::Underlay underlay = *underlayKnown;
    vtepSeen = underlay.vtep;
    if (machineId.empty()) machineId = TRY(model::readMachineId());
    // Writes nothing for a name another machine holds.
    const model::Host self{conf.hostName, underlay.vtep, machineId, 0};
    TRY_VOID(model::ensureHostClaim(cluster->kv(), mem, self));
    if (keeper) keeper->hold(self);
    else liveness.keep(cluster->kv(), self);
    if (auto r = replayWithdrawals(s, *cluster, conf); !r) log::warn("watch: kept deletions: " + r.error().msg);
    return underlay;
  }

  // Reconciles the local networks `which` selects, each from `listings(net)`, which holds its
  // P/networks/<net>/ listing or none yet (the network is skipped: an empty listing would read as a store
  // that forgot it). One network's failure does not stop the others; the failed ones are returned.
  template <class Which, class ListingsOf>
  Result<std::set<std::string>> reconcile(Which which, ListingsOf listings, bool storeCheck,
                                          const std::optional<kv::KvPair>* marker) {
    auto s = TRY(nl::Socket::open());
    auto underlay = TRY(housekeeping(s, storeCheck, marker));
    std::set<std::string> failed;
    auto nets = vxlan::rememberedNetworks(conf.stateDir);
    std::sort(nets.begin(), nets.end());  // a directory's order: by name, so that every pass is the same
    for (const auto& [net, vni] : nets) {
      if (!which(net)) continue;
      const Listings in = listings(net);
      if (!in.network) continue;
      const auto start = std::chrono::steady_clock::now();
      if (auto r = reconcileNetwork(s, underlay, net, vni, in); !r) {
        log::warn("watch: network '" + net + "': " + r.error().msg);
        failed.insert(net);
      } else {
        if (!reconciled.count(net))
          log::debug("network '" + net + "': first reconciled, in " +
                     std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now() - start).count()) +
                     " ms" + (in.attachments ? "" : " (its attachments not listed yet)"));
        reconciled.insert(net);
      }
    }
    return failed;
  }

  // --once: one listing of every network.
  Result<void> reconcileOnce() {
    auto listing = TRY(cluster->kv().list(cluster->keys().networks()));
    auto failed = TRY(reconcile([](const std::string&) { return true; },
                                [&](const std::string&) { return Listings{&listing, nullptr, true}; }, true, nullptr));
    if (!failed.empty()) return fail(Code::TryAgainLater, std::to_string(failed.size()) + " networks failed");
    return {};
  }

  // A change of a network's attachments alone, on a network whose peer entries a full pass synced: applies
  // the difference to what that pass left (a few netlink requests, no dumps, no housekeeping). False when the
  // network needs the full pass instead.
  bool applyPeers(nl::Socket& s, const std::string& net, const std::vector<kv::KvPair>& attachments, uint64_t index) {
    auto it = installed.find(net);
    if (it == installed.end() || !membersOf.count(net)) return false;
    auto view = remotePeers(attachmentsOf(net, attachments), membersOf[net]);
    localAddrs[net] = std::move(view.local);
    auto& peers = view.peers;
    auto r = [&]() -> Result<vxlan::PeerSync> {
      auto lock = TRY(vxlan::HostLock::acquire(conf.stateDir, net));
      const auto known = memberVteps(net);
      mergeInstalls(takeAnswered(net), index, it->second.peers, peers, &known);
      return vxlan::applyPeerChanges(s, it->second.dev, it->second.peers, peers, announcer);
    }();
    if (!r) {
      log::warn("watch: network '" + net + "': " + r.error().msg + "; syncing its peers in full");
      installed.erase(it);
      peersSeen.erase(net);
      return false;
    }
    it->second.peers = std::move(peers);
    if (r->added || r->removed)
      log::debug("network '" + net + "': " + std::to_string(r->added) + " remote containers learned, " +
                 std::to_string(r->removed) + " forgotten");
    announceAwaited(net);
    return true;
  }

  // A change of a network's members that only adds some (hosts joined), on a network a full pass synced:
  // admits their VTEPs to the allow-list, appends their flood entries and adds the peer entries of their
  // containers, reading nothing back. False when the network needs the full pass instead: a member left or
  // moved, the VNI or this host's own record is not as that pass left them, or the cached records are not
  // the network's (its peers were synced from a listing of their own).
  bool applyMembers(nl::Socket& s, const std::string& net, const std::vector<kv::KvPair>& pairs) {
    auto it = installed.find(net);
    auto was = membersOf.find(net);
    if (it == installed.end() || was == membersOf.end() || !parsed.count(net)) return false;
    Installed& in = it->second;
    auto st = model::parseNetworkListing(cluster->keys(), net, pairs);
    if (!st.vni || *st.vni != in.vni) return false;
    using Placed = std::pair<std::string, IpAddr>;
    auto placed = [](const std::vector<model::Member>& ms) {
      std::set<Placed> out;
      for (const auto& m : ms) out.insert({m.host, m.vtep});
      return out;
    };
    const auto before = placed(was->second), after = placed(st.members);
    if (!after.count({conf.hostName, in.vtep}) ||
        !std::includes(after.begin(), after.end(), before.begin(), before.end()))
      return false;
    std::set<IpAddr> had;
    std::map<IpAddr, std::string> joined;
    for (const auto& m : before) had.insert(m.second);
    for (const auto& [host, vtep] : after)
      if (!had.count(vtep) && !(vtep == in.vtep)) joined.emplace(vtep, host);
    auto peers = remotePeers(cachedAttachments(net), st.members).peers;
    auto r = [&]() -> Result<vxlan::PeerSync> {
      auto lock = TRY(vxlan::HostLock::acquire(conf.stateDir, net));
      std::set<IpAddr> vteps;
      for (const auto& [vtep, host] : joined) vteps.insert(vtep);
      TRY_VOID(allow->join(s, in.dev, in.vni, vteps));
      mergeInstalls(takeAnswered(net), 0, in.peers, peers);  // the cache's age is not known: all kept
      return vxlan::applyPeerChanges(s, in.dev, in.peers, peers, announcer);
    }();
    if (!r) {
      log::warn("watch: network '" + net + "': " + r.error().msg + "; reconciling it in full");
      installed.erase(it);
      peersSeen.erase(net);
      return false;
    }
    for (const auto& [vtep, host] : joined)
      log::info("flood entry for " + vtep.str() + " (" + host + ") added: a member of '" + net + "'");
    in.peers = std::move(peers);
    was->second = std::move(st.members);
    membersSeen[net] = Seen{mark(pairs), {}, in.dev.bridge.index};
    announceAwaited(net);
    return true;
  }

  // The prefixes this host follows: the store's identity, and each network whose devices are on this host,
  // its members and its attachments. (A network it joins is noticed through its local VNI record, which
  // ADD rewrites once the network's records are in place.)
  std::set<std::string> followed() {
    std::set<std::string> out{cluster->keys().cluster()};
    auto s = nl::Socket::open();
    for (const auto& [net, vni] : vxlan::rememberedNetworks(conf.stateDir)) {
      auto dev = s ? vxlan::findNetDevices(*s, vni) : Result<std::optional<vxlan::NetDevices>>(fail(s.error()));
      if (!dev || *dev) {  // unsure (an error): follow it
        out.insert(cluster->keys().network(net));
        out.insert(cluster->keys().attachmentsOf(net));
      }
    }
    return out;
  }

  // Drops what the watcher keeps of networks whose prefixes it no longer follows; true if there were any.
  bool forgetUnfollowed(const std::set<std::string>& follows) {
    std::set<std::string> left;
    for (const auto& [net, _] : membersOf)
      if (!follows.count(cluster->keys().network(net))) left.insert(net);
    for (const auto& [net, _] : installed)
      if (!follows.count(cluster->keys().network(net))) left.insert(net);
    for (const auto& net : left) {
      if (auto it = installed.find(net); it != installed.end()) unreportPort(vxlan::vxlanName(it->second.vni));
      membersOf.erase(net), installed.erase(net), membersSeen.erase(net), peersSeen.erase(net);
      parsed.erase(net), reconciled.erase(net), localAddrs.erase(net);
      (void)takeAnswered(net);  // its devices went with it
      answeredAt.erase(cluster->keys().network(net)), answeredAt.erase(cluster->keys().attachmentsOf(net));
      missPolicy.forget(net);
    }
    return !left.empty();
  }

  // The local networks whose devices are not the ones their entries were synced on, with what was synced on
  // those dropped: a DEL and an ADD made them again between two wakes (their records' changes may have been
  // applied to the old ones meanwhile, as differences that changed nothing), or an ADD made them after the
  // last pass found none. The caller reconciles them.
  std::set<std::string> dropDevicesMadeAgain() {
    std::set<std::string> out;
    auto s = nl::Socket::open();
    if (!s) return out;
    for (const auto& [net, vni] : vxlan::rememberedNetworks(conf.stateDir)) {
      auto dev = vxlan::findNetDevices(*s, vni);
      if (!dev || !*dev) continue;  // gone (or unsure): the network's next change reconciles it
      auto it = installed.find(net);
      if (it != installed.end() && it->second.dev.bridge.index == (*dev)->bridge.index &&
          it->second.dev.vxlan.index == (*dev)->vxlan.index)
        continue;
      if (it != installed.end())
        log::info("network '" + net + "': its devices were made again, syncing the new ones");
      installed.erase(net), membersSeen.erase(net), peersSeen.erase(net);
      (void)takeAnswered(net);  // installed on the old devices
      out.insert(net);
    }
    return out;
  }

  // Hands each attachment listing to this host's resolver as it arrives (it would otherwise ask the store
  // for the very same one), on the feed's thread: names do not wait for this loop's kernel work.
  // Also tells the answerer, which may wait for one.
  void shareListings(kv::ChangeFeed& feed) {
    if (!share && !answerer) return;
    feed.onAnswer([share = share.get(), answerer = answerer.get(), &keys = cluster->keys()](
                      const std::string& prefix, const std::vector<kv::KvPair>& pairs) {
      auto net = keys.networkOfAttachments(prefix);
      if (!net) return;
      if (share) share->publish(*net, pairs);
      if (answerer) answerer->changed(prefix);
    });
  }

  // Follows `now`, and withdraws the shared listings of networks no longer followed. The first listings of the
  // new prefixes are read from the leader's own address, in one request (seeds: kv::ChangeFeed::follow): a
  // network this host joins is synced at once, not when the server the feeds keep busy first answers (at 50
  // hosts 200-430 ms, during which a joining host drops the VXLAN of members its ADD did not know). Without a
  // reader, or when the read fails, the feed's first answers bring them.
  void refollow(kv::ChangeFeed& feed, std::set<std::string>& follows, std::set<std::string> now) {
    std::vector<std::string> fresh;
    for (const auto& prefix : now)
      if (!follows.count(prefix)) {
        log::debug("watch: following " + prefix);
        if (prefix != cluster->keys().cluster()) fresh.push_back(prefix);
      }
    std::map<std::string, kv::ChangeFeed::Seed> seeds;
    const auto started = std::chrono::steady_clock::now();
    for (size_t at = 0; leaderReads && at < fresh.size(); at += kv::ConsulClient::kMaxTxnOps) {
      const std::vector<std::string> part(fresh.begin() + long(at),
                                          fresh.begin() + long(std::min(fresh.size(), at + kv::ConsulClient::kMaxTxnOps)));
      auto read = leaderReads->readTrees(part, &stopping);
      if (!read) {
        log::debug("watch: reading the first listings from the leader: " + read.error().msg + "; the feed brings them");
        break;
      }
      for (size_t i = 0; i < part.size(); ++i) seeds[part[i]] = {std::move((*read)[i].pairs), (*read)[i].index};
    }
    if (!seeds.empty())
      log::debug("watch: read the first listings of " + std::to_string(seeds.size()) + " prefixes from the leader in " +
                 std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                                      started).count()) + " ms");
    feed.follow(follows = std::move(now), std::move(seeds));
    if (!share) return;
    std::set<std::string> nets;
    for (const auto& prefix : follows)
      if (auto net = cluster->keys().networkOfAttachments(prefix)) nets.insert(std::move(*net));
    share->keepOnly(nets);
  }

  // Answers the misses the ARP reports name (vxlan/misses.hpp) as far as MissPolicy allows now: per network,
  // one read of its attachments from the leader, whose new entries are installed like a change of the feed's,
  // and each address asked for that it has is announced on the bridge (the asking container's pending
  // entry takes it). An address the entries have already (the feed brought it while the report waited) is
  // announced at once, with no read; were its kernel entry lost, the minute's full pass puts it back.
  void answerMisses(kv::ChangeFeed& feed) {
    if (!misses) return;
    const auto now = MissPolicy::Clock::now();
    // The answerer's hand-offs met its asker budget already.
    for (const auto& m : answerer ? answerer->handedOff() : misses->take()) {
      auto in = std::find_if(installed.begin(), installed.end(), [&](const auto& kv) {
        return (m.port && kv.second.dev.vxlan.index == m.port) || (m.bridge && kv.second.dev.bridge.index == m.bridge);
      });
      // A network not synced yet: its first full pass announces every peer it installs. An address of this
      // host's: the bridge delivers that request to the container's port too.
      if (in == installed.end() || localAddrs[in->first].count(m.ip) || (!answerer && !missPolicy.asked(m.asker, now))) {
        ++missCounts->ignored;
        continue;
      }
      const auto& peers = in->second.peers;
      auto known = std::find_if(peers.begin(), peers.end(), [&](const vxlan::Peer& p) { return p.ip == m.ip; });
      if (known != peers.end()) {
        announcer.added(in->second.dev.bridge.index, known->ip, known->mac, true);
        ++missCounts->answered;
        if (answerer) answerer->resolved(in->first, {m.ip});
      } else if (!missPolicy.missed(in->first, m.ip, now)) {
        ++missCounts->ignored;
      }
    }
    auto due = missPolicy.due(now);
    if (due.empty()) return;
    auto s = nl::Socket::open();
    if (!s) return log::warn("watch: answering ARP misses: " + s.error().msg);
    for (const auto& [net, ips] : due)
      if (auto r = answerMiss(*s, feed, net, ips, now); !r) log::warn("watch: network '" + net + "': answering ARP misses: " + r.error().msg);
  }

  // The feed's latest listing first (it often has the address already, its change waiting behind this loop's
  // work): no read when it names every address asked for on a member host.
  Result<void> answerMiss(nl::Socket& s, kv::ChangeFeed& feed, const std::string& net, const std::set<IpAddr>& ips,
                          MissPolicy::Clock::time_point now) {
    auto it = installed.find(net);
    if (it == installed.end() || !membersOf.count(net)) return {};
    const std::string prefix = cluster->keys().attachmentsOf(net);
    kv::ConsulClient::Watch listing;
    std::vector<model::AttachmentRecord> records;
    uint64_t latestIndex = 0;
    if (auto latest = feed.latest(prefix, &latestIndex); latest && latestIndex >= answeredAt[prefix]) {
      auto view = remotePeers(attachmentsOf(net, *latest), membersOf[net]);
      size_t has = 0;
      for (const auto& p : view.peers) has += ips.count(p.ip);
      if (has == ips.size()) {
        listing.pairs = std::move(*latest);
        records = attachmentsOf(net, listing.pairs);
      }
    }
    if (listing.pairs.empty()) {
      listing = TRY(cluster->kv().listBlocking(prefix, 0, 0, nullptr, kv::ConsulClient::ReadFrom::Leader));
      ++missCounts->reads;
      records = attachmentsOf(net, listing.pairs);
    }
    // An address on a host this watcher does not know as a member yet (it joined a moment ago): the members
    // too, applied as the feed's join would be (VTEP admitted, flood entry, its containers' entries).
    std::set<std::string> known;
    for (const auto& m : membersOf[net]) known.insert(m.host);
    const bool stranger = std::any_of(records.begin(), records.end(), [&](const model::AttachmentRecord& a) {
      return !known.count(a.host) && std::any_of(a.ips.begin(), a.ips.end(), [&](const std::string& ip) {
               auto n = IpNet::parse(ip, false);
               return n && ips.count(n->addr());
             });
    });
    if (stranger) {
      const std::string members = cluster->keys().network(net);
      auto joined = TRY(cluster->kv().listBlocking(members, 0, 0, nullptr, kv::ConsulClient::ReadFrom::Leader));
      ++missCounts->reads;
      if (!applyMembers(s, net, joined.pairs)) return {};  // not only joins: the feed's full pass does it
      answeredAt[members] = std::max(answeredAt[members], joined.index);
      it = installed.find(net);
      if (it == installed.end()) return {};
    }
    auto view = remotePeers(records, membersOf[net]);
    Installed& in = it->second;
    auto r = [&]() -> Result<vxlan::PeerSync> {
      auto lock = TRY(vxlan::HostLock::acquire(conf.stateDir, net));
      const auto known = memberVteps(net);
      mergeInstalls(takeAnswered(net), listing.index ? listing.index : latestIndex, in.peers, view.peers, &known);
      return vxlan::applyPeerChanges(s, in.dev, in.peers, view.peers, announcer);
    }();
    if (!r) {
      installed.erase(it);
      peersSeen.erase(net);
      return fail(std::move(r.error()));
    }
    in.peers = std::move(view.peers);
    localAddrs[net] = std::move(view.local);
    peersSeen.erase(net);  // what the kernel holds is no listing of the feed's
    if (listing.index) answeredAt[prefix] = std::max(answeredAt[prefix], listing.index);
    std::set<IpAddr> found;
    for (const auto& p : in.peers)
      if (ips.count(p.ip) && found.insert(p.ip).second) {
        announcer.added(in.dev.bridge.index, p.ip, p.mac, true);
        ++missCounts->answered;
      }
    for (const auto& ip : ips)
      if (!found.count(ip)) missPolicy.unknown(net, ip, now), ++missCounts->unknown;
    if (answerer) answerer->resolved(net, found);  // its fallback does not flood them
    log::debug("network '" + net + "': " + std::to_string(ips.size()) + " ARP misses, " + std::to_string(found.size()) +
               " answered" + (listing.index ? " from the leader (index " + std::to_string(listing.index) + ")" : " from the feed"));
    return {};
  }

  // Announces the addresses of `net` that a report asked for and the store did not have then, now that
  // the network's entries have them: the asker may still be waiting (its kernel asks 3 times, a second apart).
  void announceAwaited(const std::string& net) {
    auto it = installed.find(net);
    if (it == installed.end()) return;
    const auto awaited = missPolicy.awaited(net);
    if (awaited.empty()) return;
    for (const auto& p : it->second.peers)
      if (awaited.count(p.ip)) announcer.added(it->second.dev.bridge.index, p.ip, p.mac, true), missPolicy.found(net, p.ip);
  }

  // Drops from `changed` the attachment listings that are not newer than what a report had applied.
  void dropAnswered(std::map<std::string, std::vector<kv::KvPair>>& changed, const std::map<std::string, uint64_t>& indexes) {
    if (answeredAt.empty()) return;
    std::erase_if(changed, [&](const auto& kv) {
      auto at = answeredAt.find(kv.first);
      auto index = indexes.find(kv.first);
      return at != answeredAt.end() && index != indexes.end() && index->second <= at->second;
    });
  }

  static uint64_t indexOf(const std::map<std::string, uint64_t>& indexes, const std::string& prefix) {
    auto it = indexes.find(prefix);
    return it == indexes.end() ? 0 : it->second;
  }

  // P/cluster as the feed last saw it: nullopt when the key is not there, nullptr before the feed's first answer.
  static const std::optional<kv::KvPair>* storeMarker(kv::ChangeFeed& feed, const std::string& key,
                                                      std::optional<kv::KvPair>& slot) {
    auto listing = feed.latest(key);
    if (!listing) return nullptr;
    slot.reset();
    for (auto& p : *listing)
      if (p.key == key) slot = std::move(p);
    return &slot;
  }

  // Follows what concerns this host until `stopping`: a change of one network's members or attachments
  // reconciles that network (as a difference, when members only joined or just the attachments changed); a
  // change of the store's identity and a minute without a full pass (after a failure, every second) reconcile
  // everything exactly from the listings in hand. A full pass reads every entry back from the kernel (at 50
  // hosts some 100 ms of CPU per host): every 10 s, it was most of the cluster's cost at rest.
  void follow(const std::atomic<bool>& stopping) {
    kv::ChangeFeed feed(cluster->kv().config());
    feed.countBehindInto(feedBehind);
    if (auto dir = model::hostStateDir(conf.stateDir); !dir) {
      log::warn("watch: " + dir.error().msg + "; networks this host joins are noticed within 10 s");
    } else if (auto r = feed.watchDirectory(*dir, ".vni"); !r) {
      log::warn("watch: " + r.error().msg + "; networks this host joins are noticed within 10 s");
    }
    const model::Keys& keys = cluster->keys();
    if (auto s = model::ListingServer::start(conf.stateDir)) share = std::move(*s);
    else log::warn("watch: " + s.error().msg + "; overlay-resolver follows the store itself");
    shareListings(feed);
    std::set<std::string> follows;
    refollow(feed, follows, followed());
    std::set<std::string> retry;
    std::map<std::string, std::vector<kv::KvPair>> held;  // the listings of this pass
    std::optional<kv::KvPair> markerSlot;
    auto lastFull = std::chrono::steady_clock::now();
    waker->set(&feed);
    if (answerer)
      answerer->setLatest([&feed](const std::string& prefix, uint64_t* index) { return feed.latest(prefix, index); });
    while (!stopping) {
      auto timeout = std::chrono::milliseconds(retry.empty() ? 10000 : 1000);
      bool forMisses = false;  // the wait ends when a network's next read for misses is allowed
      if (auto at = missPolicy.nextDue()) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(*at - std::chrono::steady_clock::now());
        if (left < timeout) timeout = std::max(left, std::chrono::milliseconds(0)), forMisses = true;
      }
      publishViews();  // what the last round synced (cheap: a few maps), before a wait of up to 10 s
      auto got = feed.wait(timeout, stopping);
      if (stopping) break;
      answerMisses(feed);
      auto& changed = got.prefixes;
      dropAnswered(changed, got.indexes);
      const bool timedOut = changed.empty() && !got.local && !got.woken && !forMisses;
      // Every minute however busy the cluster: the differences applied meanwhile read nothing back, and
      // only a full pass repairs what someone else changed in the kernel.
      bool everything = changed.count(keys.cluster()) || !retry.empty() ||
                        std::chrono::steady_clock::now() - lastFull >= std::chrono::seconds(60) ||
                        (timedOut && vtepMoved());
      if (everything) {
        refollow(feed, follows, followed()), lastFull = std::chrono::steady_clock::now();
        answeredAt.clear();  // the full pass lists what the feed has
      } else if (got.local || timedOut) {
        // An ADD or DEL here rewrote a local VNI record (or 10 s passed: the directory may not be watched;
        // a VTEP address that moved is checked then too):
        // a network joined is reconciled (alone) once the feed first answers for it, a change like any
        // other; one left is forgotten (its DEL removed its devices and allow-list pairs).
        if (auto now = followed(); now != follows) {
          refollow(feed, follows, std::move(now));
          if (forgetUnfollowed(follows) && health) health->setTargets(healthTargets(membersOf, conf.hostName));
          // The first listings it read (and whatever else came meanwhile): in this round, not the next.
          auto more = feed.wait(std::chrono::milliseconds(0), stopping);
          dropAnswered(more.prefixes, more.indexes);
          for (auto& [prefix, pairs] : more.prefixes) {
            got.indexes[prefix] = indexOf(more.indexes, prefix);
            changed[prefix] = std::move(pairs);
          }
          if (more.local) feed.poke();
          if (more.woken) feed.wake();
        }
        // The feed's latest listings of a network whose devices are new reconcile it like a change (one the
        // feed has not answered for yet is reconciled at its first answer).
        for (const auto& net : dropDevicesMadeAgain())
          for (const auto& prefix : {keys.network(net), keys.attachmentsOf(net)}) {
            uint64_t index = 0;
            if (changed.count(prefix)) continue;
            if (auto latest = feed.latest(prefix, &index)) changed[prefix] = std::move(*latest), got.indexes[prefix] = index;
          }
      }
      if (!everything && changed.empty()) continue;
      // Members that joined and attachments that changed, on networks synced in full before: the
      // differences only. Members first: the peer entries of a joined host's containers need its VTEP.
      if (!everything && !changed.empty()) {
        // Which synced network each prefix is of, and whether it is that network's members (else attachments).
        std::map<std::string, std::pair<std::string, bool>> ownerOf;
        for (const auto& [n, _] : installed)
          ownerOf[keys.network(n)] = {n, true}, ownerOf[keys.attachmentsOf(n)] = {n, false};
        std::set<std::string> rest;  // what the full pass below reconciles
        for (const auto& [prefix, _] : changed)
          if (!ownerOf.count(prefix)) rest.insert(prefix);
        bool joined = false;
        auto s = nl::Socket::open();
        for (const auto& [prefix, pairs] : changed) {
          auto o = ownerOf.find(prefix);
          if (o == ownerOf.end() || !o->second.second) continue;
          if (s && applyMembers(*s, o->second.first, pairs)) joined = true;
          else rest.insert(prefix), rest.insert(keys.attachmentsOf(o->second.first));  // the full pass syncs both
        }
        for (const auto& [prefix, pairs] : changed) {
          auto o = ownerOf.find(prefix);
          if (o == ownerOf.end() || o->second.second || rest.count(prefix)) continue;
          if (!s || !applyPeers(*s, o->second.first, pairs, indexOf(got.indexes, prefix))) rest.insert(prefix);
          answerMisses(feed);  // a container waits on each: not behind every network's change
        }
        if (joined && health) health->setTargets(healthTargets(membersOf, conf.hostName));
        if (joined) publishViews();
        std::erase_if(changed, [&](const auto& kv) { return !rest.count(kv.first); });
        if (changed.empty()) continue;
      }
      auto listingOf = [&](const std::string& prefix, uint64_t* index = nullptr) -> const std::vector<kv::KvPair>* {
        if (auto it = changed.find(prefix); it != changed.end()) {
          if (index) *index = indexOf(got.indexes, prefix);
          return &it->second;
        }
        auto latest = feed.latest(prefix, index);
        if (!latest) return nullptr;
        return &(held[prefix] = std::move(*latest));
      };
      auto r = reconcile(
          [&](const std::string& net) {
            return everything || changed.count(keys.network(net)) || changed.count(keys.attachmentsOf(net));
          },
          [&](const std::string& net) {
            Listings in{listingOf(keys.network(net)), nullptr, everything || changed.count(keys.network(net)) > 0};
            in.attachments = listingOf(keys.attachmentsOf(net), &in.attachmentsIndex);
            return in;
          },
          everything, storeMarker(feed, keys.cluster(), markerSlot));
      held.clear();
      if (!r) {
        log::warn("watch: reconcile: " + r.error().msg + "; retrying");
        retry.insert("");  // everything, soon
        continue;
      }
      retry = std::move(*r);
      if (health) health->setTargets(healthTargets(membersOf, conf.hostName));
      // Drop VXLAN from non-members once every followed network's sets were made exact from a listing.
      if (retry.empty() && feed.allAnswered() &&
          std::all_of(follows.begin(), follows.end(), [&](const std::string& prefix) {
            return prefix == keys.cluster() || prefix.compare(0, keys.attachments().size(), keys.attachments()) == 0 ||
                   std::any_of(reconciled.begin(), reconciled.end(),
                               [&](const std::string& net) { return keys.network(net) == prefix; });
          }))
        enforce();
    }
    waker->set(nullptr);
    if (answerer) answerer->setLatest(nullptr);  // before the feed goes
    feed.onAnswer(nullptr);
    share.reset();  // the resolver asks the store again
  }
};

Result<Watcher> makeWatcher() {
  Watcher w;
  w.node = TRY(kv::loadNodeConfig());
  auto store = TRY(kv::resolveStore(nullptr, "", w.node, true));
  if (store.kind != kv::StoreSpec::Consul)
    return fail(Code::InvalidConfig, "overlay watch needs \"store\" in the node config (" +
                                         std::string(w.node.path.empty() ? kv::kDefaultNodeConfig : w.node.path) + ")");
  w.conf.store = store;
  w.conf.advertise = w.node.advertise;
  if (w.node.port) w.conf.port = uint16_t(*w.node.port);
  w.conf.hostName = kv::hostIdentity(w.node);
  if (w.node.stateDir) w.conf.stateDir = *w.node.stateDir;
  w.cluster = TRY(model::Cluster::connect(store.consul));
  w.allow = TRY(vxlan::AllowList::open());
  w.announcer = TRY(vxlan::Announcer::open());
  return w;
}

}  // namespace

int watchMain(int argc, char** argv) {
  log::init("overlay-watch");
  if (!std::getenv("OVL_LOG_LEVEL")) log::setLevel(log::Level::Info);  // a daemon says what it changes
  bool once = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--once")) once = true;
    else if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::fputs("usage: overlay watch [--once]\n"
                   "Keeps this host's VXLAN flood lists and allow-list in step with the members recorded in Consul,\n"
                   "and while it runs drops VXLAN from hosts that are not members of the packet's VNI\n"
                   "(--once: one reconcile, nothing dropped).\n"
                   "Reads the node config ($OVL_NODE_CONFIG or /etc/cni/overlay-node.json).\n", stdout);
      return 0;
    } else {
      std::fprintf(stderr, "overlay watch: unknown argument '%s'\n", argv[i]);
      return 2;
    }
  }
  auto w = makeWatcher();
  if (!w) {
    log::error(w.error().msg);
    return 1;
  }
  w->once = once;
  auto healthFigures = std::make_shared<HealthFigures>();
  auto metricsServer =
      startMetrics(w->node, w->conf.store, w->conf.stateDir, healthFigures, w->missCounts, w->feedBehind);
  if (!metricsServer) {
    log::error(metricsServer.error().msg);
    return 1;
  }
  struct sigaction sa{};
  sa.sa_handler = onSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  if (once) {
    auto r = w->reconcileOnce();
    if (!r) log::error("watch --once: " + r.error().msg);
    w->liveness.release(w->cluster->kv());
    return r ? 0 : 1;
  }
  if (!once) {
    // Before the first reconcile: the devices it makes report misses only if they are read.
    auto lock = vxlan::WatchLock::acquire(w->conf.stateDir);
    if (!lock) {
      log::error(lock.error().msg);
      return 1;
    }
    // Clients of its own (a client is not thread-safe): the answerer and the loop read at once. The reads go to
    // the leader's own address (kv/leader_reader.hpp), not through the server the feeds keep busy.
    if (auto reader = kv::LeaderReader::start(w->cluster->kv().config())) w->leaderReads = std::move(*reader);
    else log::warn("watch: " + reader.error().msg + "; ARP reports and the networks this host joins wait for the feed");
    auto listener = vxlan::MissListener::start(vxlan::kArpLogGroup, [waker = w->waker.get()] { waker->wake(); });
    if (listener) {
      w->misses = std::move(*listener);
      MissAnswerer::Config cfg{w->conf.stateDir, w->conf.hostName};
      cfg.floodAfter = std::chrono::milliseconds(w->node.arpFloodAfterMs);
      cfg.reports = [l = w->misses.get()] { return l->take(); };
      if (w->leaderReads)
        cfg.readLeader = [shared = w->leaderReads](const std::vector<std::string>& prefixes,
                                                   const std::atomic<bool>* cancel) {
          return shared->readTrees(prefixes, cancel);
        };
      cfg.handOff = [waker = w->waker.get()] { waker->wake(); };
      if (auto a = MissAnswerer::start(std::move(cfg), *w->cluster, w->missCounts)) {
        w->answerer = std::move(*a);
        w->misses->setWake([a = w->answerer.get()] { a->notify(); });
      } else {
        log::warn("watch: " + a.error().msg + "; ARP reports wait for the watcher's loop");
      }
    } else {
      log::warn(listener.error().msg + "; ARP requests no entry answers flood");
    }
    w->watchLock = std::move(*lock);
  }
  if (auto k = LivenessKeeper::start(w->cluster->kv().config())) w->keeper = std::move(*k);
  else log::warn("watch: liveness: " + k.error().msg + "; renewed on the loop");
  log::info("watching this host's networks as host '" + w->conf.hostName + "'");
  if (w->node.healthEnabled)
    w->health = std::make_unique<HealthMesh>(HealthMesh::Config{w->cluster->kv().config(), w->conf.hostName,
                                                                w->conf.advertise, w->conf.port,
                                                                model::healthVni(w->node),
                                                                model::healthSubnet(w->node), healthFigures});
  else
    log::info("health mesh off (node config health.enabled false)");
  w->follow(stopping);
  w->health.reset();
  w->relax();
  w->unreport();
  if (w->misses) w->misses->setWake(nullptr);  // the listener calls the answerer, which takes from it
  w->answerer.reset();
  w->misses.reset();
  w->watchLock.release();
  w->forgetPeers();
  w->keeper.reset();  // releases the claim
  w->liveness.release(w->cluster->kv());
  return 0;
}

}  // namespace ovl::overlay
