// overlayctl hosts | leases [NAME]
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <set>

#include "overlayctl/cli.hpp"
#include "overlayctl/commands.hpp"
#include "overlayctl/snapshot.hpp"

namespace ovl::ctl {
namespace {

const Help kHostsHelp{"overlayctl hosts [--json] | overlayctl hosts evict HOST [--force]",
                      "Lists every host that claimed its name by attaching a container: its VTEP address, whether\n"
                      "its watcher runs (ALIVE), the networks it is a member of, its number of attachments and when\n"
                      "it last attached one. 'evict HOST' removes a dead host's records from the store: its\n"
                      "memberships, attachments, leases and owner indexes, and its claim on the name; it is\n"
                      "refused while the host's watcher runs, and, since a host without a watcher shows no\n"
                      "other sign of life, while its claim or one of its attachments is less than 10 minutes old\n"
                      "(--force: evict anyway, for a host known to be dead).\n"
                      "Then the health mesh, one row per probed pair as its watcher reported it: up or down, the\n"
                      "last round trip, the largest packet (DF) that crossed and the network MTU probed for, and\n"
                      "the age of the report (reports are rewritten every 30 s and on every change).\n"};

const Help kLeasesHelp{"overlayctl leases [NAME] [--json]",
                       "Lists the IP leases of network NAME (its overlay-ipam pool), or of every pool. ATTACHED\n"
                       "tells whether the store records the lease holder as attached on its host; NAMES are its container\n"
                       "name and aliases, from that attachment record.\n"};

std::string fixed(double v, int decimals) {
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

void healthJson(JsonOut& w, const model::HealthReport* r, int64_t now) {
  key(w, "health");
  w.StartArray();
  for (const auto& p : r ? r->pairs : std::vector<model::PairHealth>{}) {
    w.StartObject();
    key(w, "peer"); str(w, p.peer);
    key(w, "up"); w.Bool(p.up);
    key(w, "rttMs"); w.Double(p.rttMs);
    key(w, "largest"); w.Uint(p.largest);
    key(w, "mtu"); w.Uint(p.mtu);
    key(w, "since"); str(w, isoTime(p.since));
    key(w, "ageSeconds"); w.Int64(now - r->time);
    w.EndObject();
  }
  w.EndArray();
}

void healthTable(const Snapshot& snap, int64_t now) {
  Table t({"PAIR", "STATE", "RTT", "LARGEST", "MTU", "SINCE", "AGE"});
  for (const auto& [host, r] : snap.health)
    for (const auto& p : r.pairs)
      t.row({host + " -> " + p.peer, p.up ? "up" : "down", p.up ? fixed(p.rttMs, 2) + " ms" : "-",
             p.largest ? std::to_string(p.largest) : "-", p.mtu ? std::to_string(p.mtu) : "-", isoTime(p.since),
             std::to_string(now - r.time) + " s"});
  if (snap.health.empty()) return;
  std::printf("\n");
  std::fflush(stdout);
  t.print();
}

// The attachment the store records for the lease holder on its host, if any.
const AttachView* attachmentOf(const Snapshot& s, const LeaseView& l) {  const std::string& net = l.network.empty() ? l.pool : l.network;
  for (const auto& a : s.attachments)
    if (a.net == net && a.host == l.host && a.containerId == l.containerId && a.ifName == l.ifName) return &a;
  return nullptr;
}

}  // namespace

Result<int> hostsCmd(Argv argv) {
  auto a = TRY(parseArgs(argv, {{"--force", false, false}}));
  if (a.has("--help")) return (printHelp(kHostsHelp), 0);
  if (!a.positional.empty() && a.positional[0] == "evict") {
    if (a.positional.size() != 2) return usage("hosts evict takes one HOST");
    return evictHost(a, a.positional[1]);
  }
  if (!a.positional.empty()) return usage("hosts takes no arguments but 'evict HOST'");
  if (a.has("--force")) return usage("--force goes with 'hosts evict HOST'");
  auto ctx = TRY(makeContext(a));
  auto kv = TRY(connect(ctx));
  auto snap = TRY(readSnapshot(kv));
  for (const auto& w : snap.warnings) std::cerr << "overlayctl: warning: " << w << "\n";  // e.g. a bad host record
  std::map<std::string, std::vector<std::string>> netsOf;
  for (const auto& [name, n] : snap.nets)
    for (const auto& m : n.members) netsOf[m.host].push_back(name);
  std::map<std::string, size_t> count;
  for (const auto& at : snap.attachments) ++count[at.host];

  const int64_t now = int64_t(std::time(nullptr));
  rapidjson::StringBuffer sb;
  JsonOut w(sb);
  w.StartArray();
  Table t({"HOST", "VTEP", "ALIVE", "NETWORKS", "CONTAINERS", "LAST-ATTACH"});
  for (const auto& h : snap.hosts) {
    const auto& nets = netsOf[h.host];
    const bool alive = snap.alive.count(h.host) > 0;
    t.row({h.host, h.vtep, alive ? "yes" : "no", nets.empty() ? "-" : join(nets, ","), std::to_string(count[h.host]),
           isoTime(h.time)});
    w.StartObject();
    key(w, "host"); str(w, h.host);
    key(w, "vtep"); str(w, h.vtep);
    key(w, "machineID"); str(w, h.machineId);
    key(w, "alive"); w.Bool(alive);
    key(w, "networks");
    w.StartArray();
    for (const auto& n : nets) str(w, n);
    w.EndArray();
    key(w, "containers"); w.Uint(unsigned(count[h.host]));
    key(w, "lastAttach"); str(w, isoTime(h.time));
    auto rep = snap.health.find(h.host);
    healthJson(w, rep == snap.health.end() ? nullptr : &rep->second, now);
    w.EndObject();
  }
  w.EndArray();
  if (ctx.json) return (printJson(sb), 0);
  t.print();
  healthTable(snap, now);
  return 0;
}

Result<int> leasesCmd(Argv argv) {
  auto a = TRY(parseArgs(argv, {}));
  if (a.has("--help")) return (printHelp(kLeasesHelp), 0);
  if (a.positional.size() > 1) return usage("leases takes at most one NAME");
  auto ctx = TRY(makeContext(a));
  auto kv = TRY(connect(ctx));
  auto snap = TRY(readSnapshot(kv));
  for (const auto& w : snap.warnings) std::cerr << "overlayctl: warning: " << w << "\n";  // e.g. a bad lease
  std::optional<std::string> only;
  if (!a.positional.empty()) {
    only = a.positional[0];
    bool known = snap.net(*only) || !snap.leasesOf(*only).empty() || !snap.leasesOfNetwork(*only).empty();
    if (!known) return fail(Code::InvalidConfig, "network '" + *only + "' is not defined in the store and has no leases");
  }
  rapidjson::StringBuffer sb;
  JsonOut w(sb);
  w.StartArray();
  Table t({"NETWORK", "IP", "CONTAINER", "NAMES", "IFNAME", "HOST", "SINCE", "ATTACHED"});
  for (const auto& l : snap.leases) {
    if (only && l.pool != *only && l.network != *only) continue;
    const AttachView* at = attachmentOf(snap, l);
    const bool att = at != nullptr;
    const std::string names = at ? namesOf(*at) : "";
    t.row({l.pool, l.ip, l.containerId, names.empty() ? "-" : names, l.ifName, l.host, l.time, att ? "yes" : "no"});
    w.StartObject();
    key(w, "network"); str(w, l.pool);
    key(w, "ip"); str(w, l.ip);
    key(w, "containerID"); str(w, l.containerId);
    key(w, "names");
    w.StartArray();
    if (at)
      for (const auto& n : at->names) str(w, n);
    w.EndArray();
    key(w, "ifname"); str(w, l.ifName);
    key(w, "host"); str(w, l.host);
    key(w, "time"); str(w, l.time);
    key(w, "attached"); w.Bool(att);
    w.EndObject();
  }
  w.EndArray();
  if (ctx.json) printJson(sb);
  else t.print();
  return 0;
}

}  // namespace ovl::ctl
