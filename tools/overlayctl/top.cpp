// overlayctl top: each host's figures from its watcher's metrics endpoint, one screen per host, refreshed.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>

#include "kv/node_config.hpp"
#include "metrics/scrape.hpp"
#include "overlayctl/cli.hpp"
#include "overlayctl/commands.hpp"
#include "overlayctl/top_figures.hpp"

namespace ovl::ctl {
namespace {

const Help kTopHelp{
    "overlayctl top [--endpoint ADDR:PORT]... [--interval SECONDS] [--once] [--json]",
    "Shows, per host, the plugins' calls (ok, errors by CNI code, mean latency), time per phase, store requests,\n"
    "and per network its members, flood/FDB/neighbour entries and pool use, as that host's `overlay watch`\n"
    "serves them on its metrics endpoint (node config \"metrics\": {\"listen\": ...}). Without --endpoint: this\n"
    "host's. Refreshed every --interval seconds (default 2) until interrupted; --once or --json: one reading."};

std::atomic<bool> interrupted{false};
void onSignal(int) { interrupted = true; }

struct Reading {
  std::string endpoint;
  Result<HostFigures> figures;
};

std::string fixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

Reading read(const metrics::ListenAddr& at) {
  auto text = metrics::fetchMetrics(at, 3000);
  if (!text) return {at.str(), fail(text.error())};
  auto samples = metrics::parseText(*text);
  if (!samples) return {at.str(), fail(samples.error())};
  return {at.str(), summarize(*samples)};
}

void printHost(const Reading& r) {
  std::cout << "== " << r.endpoint << "\n";
  if (!r.figures) {
    std::cout << "unreachable: " << r.figures.error().msg << "\n\n";
    return;
  }
  const auto& h = *r.figures;
  Table calls({"PLUGIN", "VERB", "CALLS", "OK", "ERRORS", "MEAN-MS"});
  for (const auto& [k, c] : h.calls) {
    std::vector<std::string> errs;
    for (const auto& [code, n] : c.errors) errs.push_back(std::to_string(n) + " (code " + std::to_string(code) + ")");
    calls.row({k.first, k.second, std::to_string(c.total()), std::to_string(c.ok), errs.empty() ? "0" : join(errs, ", "),
               c.total() ? fixed(c.seconds * 1000 / double(c.total()), 1) : "-"});
  }
  calls.print();
  Table phases({"PLUGIN", "PHASE", "CALLS", "MEAN-MS", "STORE-REQUESTS", "CAS-CONFLICTS"});
  for (const auto& [k, p] : h.phases)
    phases.row({k.first, k.second, std::to_string(p.first), p.first ? fixed(p.second * 1000 / double(p.first), 1) : "-",
                k.second == "store" ? std::to_string(h.storeRequests.count(k.first) ? h.storeRequests.at(k.first) : 0) : "",
                k.second == "store" ? std::to_string(h.casConflicts.count(k.first) ? h.casConflicts.at(k.first) : 0) : ""});
  std::cout << "\n";
  phases.print();
  Table nets({"NETWORK", "MEMBERS", "FLOOD", "FDB", "NEIGHBOURS", "POOL-USED", "POOL-SIZE"});
  auto v = [](const NetFigures& n, const char* k) {
    auto it = n.values.find(k);
    return it == n.values.end() ? std::string("-") : fixed(it->second, 0);
  };
  for (const auto& [name, n] : h.networks)
    nets.row({name, v(n, "members"), v(n, "floodEntries"), v(n, "fdbEntries"), v(n, "neighbourEntries"),
              v(n, "poolInUse"), v(n, "poolAddresses")});
  std::cout << "\n";
  nets.print();
  std::cout << "\n";
}

void writeHost(JsonOut& w, const Reading& r) {
  w.StartObject();
  key(w, "endpoint"); str(w, r.endpoint);
  if (!r.figures) {
    key(w, "error"); str(w, r.figures.error().msg);
    return (void)w.EndObject();
  }
  const auto& h = *r.figures;
  key(w, "calls");
  w.StartArray();
  for (const auto& [k, c] : h.calls) {
    w.StartObject();
    key(w, "plugin"); str(w, k.first);
    key(w, "verb"); str(w, k.second);
    key(w, "ok"); w.Uint64(c.ok);
    key(w, "errors");
    w.StartObject();
    for (const auto& [code, n] : c.errors) { key(w, std::to_string(code)); w.Uint64(n); }
    w.EndObject();
    key(w, "seconds"); w.Double(c.seconds);
    w.EndObject();
  }
  w.EndArray();
  key(w, "phases");
  w.StartArray();
  for (const auto& [k, p] : h.phases) {
    w.StartObject();
    key(w, "plugin"); str(w, k.first);
    key(w, "phase"); str(w, k.second);
    key(w, "calls"); w.Uint64(p.first);
    key(w, "seconds"); w.Double(p.second);
    w.EndObject();
  }
  w.EndArray();
  auto byPlugin = [&](const char* name, const std::map<std::string, uint64_t>& m) {
    key(w, name);
    w.StartObject();
    for (const auto& [p, n] : m) { key(w, p); w.Uint64(n); }
    w.EndObject();
  };
  byPlugin("storeRequests", h.storeRequests);
  byPlugin("casConflicts", h.casConflicts);
  key(w, "networks");
  w.StartObject();
  for (const auto& [name, n] : h.networks) {
    key(w, name);
    w.StartObject();
    for (const auto& [k, v] : n.values) { key(w, k); w.Double(v); }
    w.EndObject();
  }
  w.EndObject();
  key(w, "nftablesRules");
  w.StartObject();
  for (const auto& [t, n] : h.nftRules) { key(w, t); w.Double(n); }
  w.EndObject();
  w.EndObject();
}

Result<std::vector<metrics::ListenAddr>> endpoints(const Args& a) {
  std::vector<metrics::ListenAddr> out;
  for (const auto& e : a.all("--endpoint")) {
    auto at = metrics::ListenAddr::parse(e);
    if (!at) return usage("--endpoint '" + e + "' is not an address and port, e.g. 198.51.100.11:9474");
    out.push_back(*at);
  }
  if (!out.empty()) return out;
  auto node = TRY(kv::loadNodeConfig());
  if (!node.metricsListen)
    return usage("no --endpoint, and this host's node config has no \"metrics\": {\"listen\": ...}");
  out.push_back(*node.metricsListen);
  return out;
}

}  // namespace

Result<int> topCmd(Argv argv) {
  auto a = TRY(parseArgs(argv, {{"--endpoint", true, true}, {"--interval", true}, {"--once"}}));
  if (a.has("--help")) return (printHelp(kTopHelp), 0);
  if (!a.positional.empty()) return usage("top takes no arguments");
  const auto at = TRY(endpoints(a));
  int interval = 2;
  if (auto i = a.value("--interval")) {
    interval = std::atoi(i->c_str());
    if (interval < 1 || interval > 3600) return usage("--interval '" + *i + "' is not a number of seconds (1-3600)");
  }
  const bool once = a.has("--once") || a.has("--json");
  struct sigaction sa{};
  sa.sa_handler = onSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  bool anyFailed = false;
  do {
    std::vector<Reading> readings;
    for (const auto& e : at) readings.push_back(read(e));
    anyFailed = false;
    for (const auto& r : readings) anyFailed = anyFailed || !r.figures;
    if (a.has("--json")) {
      rapidjson::StringBuffer sb;
      JsonOut w(sb);
      w.StartArray();
      for (const auto& r : readings) writeHost(w, r);
      w.EndArray();
      printJson(sb);
    } else {
      if (!once) std::cout << "\033[H\033[2J" << nowIso() << "  (every " << interval << " s, Ctrl-C ends)\n\n";
      for (const auto& r : readings) printHost(r);
      std::cout.flush();
    }
    for (int i = 0; !once && i < interval * 10 && !interrupted; ++i) ::usleep(100000);
  } while (!once && !interrupted);
  return anyFailed ? kExitFailure : 0;
}

}  // namespace ovl::ctl
