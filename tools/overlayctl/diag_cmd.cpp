// overlayctl diag [NAME] [--fix]
#include <algorithm>
#include <iostream>

#include "nl/link.hpp"
#include "overlayctl/commands.hpp"
#include "overlayctl/diag.hpp"
#include "util/testhook.hpp"

namespace ovl::ctl {
namespace {

const Help kDiagHelp{
    "overlayctl diag [NAME] [--fix] [--json]",
    "Compares, on this host, the store (membership, attachments and leases of this host) with the kernel\n"
    "(bridge and VXLAN device, flood entries, container veths, gwbridge's nftables rules) for network NAME\n"
    "or every network, and lists each difference with what it means. With --fix, repairs what it can\n"
    "and checks again.\n\n"
    "Exit status: 0 when the host is healthy (after the repairs with --fix), 1 when differences remain.\n"};

constexpr int kMaxRounds = 3;

Result<std::vector<Finding>> diagnose(const Context& ctx, kv::ConsulClient& kv, nl::Socket& s,
                                      const std::optional<std::string>& only) {
  DiagInput in{ctx, kv, s, TRY(readSnapshot(kv)), TRY(nl::dumpLinks(s)), std::nullopt, "", 4789};
  for (const auto& w : in.snap.warnings) std::cerr << "overlayctl: warning: " << w << "\n";
  if (ctx.node.port) in.port = uint16_t(*ctx.node.port);
  if (auto u = vxlan::resolveUnderlay(s, ctx.node.advertise)) in.underlay = *u;
  else in.underlayError = u.error().msg;
  std::vector<Finding> out;
  if (only) {
    TRY(requireNetwork(in.snap, *only));
    TRY_VOID(diagNetwork(in, *only, out));
  } else {
    for (const auto& [name, n] : in.snap.nets)
      if (n.def) TRY_VOID(diagNetwork(in, name, out));
    TRY_VOID(diagOrphanDevices(in, out));
    diagHealth(in, out);
  }
  TRY_VOID(diagNftRules(in, only, out));
  // The fixes of a round run while `in` lives: run them here, the caller only sees the outcomes.
  return out;
}

std::string id(const Finding& f) { return f.network + "|" + f.kind + "|" + f.object; }

void merge(std::vector<Finding>& report, const std::vector<Finding>& round) {
  for (const auto& f : round) {
    auto it = std::find_if(report.begin(), report.end(), [&](const Finding& r) { return id(r) == id(f); });
    if (it == report.end()) report.push_back(f);
    else it->outcome = f.outcome;
  }
}

void print(const Context& ctx, const std::vector<Finding>& report, size_t remaining, bool fix) {
  if (ctx.json) {
    rapidjson::StringBuffer sb;
    JsonOut w(sb);
    w.StartObject();
    key(w, "host"); str(w, ctx.host);
    key(w, "healthy"); w.Bool(remaining == 0);
    key(w, "remaining"); w.Uint(unsigned(remaining));
    key(w, "findings");
    w.StartArray();
    for (const auto& f : report) {
      w.StartObject();
      key(w, "network"); str(w, f.network);
      key(w, "kind"); str(w, f.kind);
      key(w, "object"); str(w, f.object);
      key(w, "meaning"); str(w, f.meaning);
      key(w, "fixable"); w.Bool(bool(f.fix));
      key(w, "outcome"); str(w, f.outcome);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    printJson(sb);
    return;
  }
  if (!report.empty()) {
    Table t({"NETWORK", "PROBLEM", "OBJECT", fix ? "FIX" : "FIXABLE", "MEANING"});
    for (const auto& f : report)
      t.row({f.network.empty() ? "-" : f.network, f.kind, f.object,
             fix ? (f.outcome.empty() ? "-" : f.outcome) : (f.fix ? "yes" : "no"), f.meaning});
    t.print();
  }
  if (remaining == 0)
    std::cout << "host " << ctx.host << ": healthy" << (report.empty() ? "" : " (after repairs)") << "\n";
  else
    std::cout << "host " << ctx.host << ": " << remaining << " problem(s)"
              << (fix ? " remain" : "; run 'overlayctl diag --fix' to repair what can be repaired") << "\n";
}

}  // namespace

Result<int> diagCmd(Argv argv) {
  auto a = TRY(parseArgs(argv, {{"--fix", false, false}}));
  if (a.has("--help")) return (printHelp(kDiagHelp), 0);
  if (a.positional.size() > 1) return usage("diag takes at most one NAME");
  std::optional<std::string> only;
  if (!a.positional.empty()) only = a.positional[0];
  const bool fix = a.has("--fix");
  auto ctx = TRY(makeContext(a));
  auto kv = TRY(connect(ctx));
  auto s = TRY(nl::Socket::open());

  std::vector<Finding> report;
  auto current = TRY(diagnose(ctx, kv, s, only));
  for (int round = 0; fix && round < kMaxRounds && !current.empty(); ++round) {
    if (round == 0) testhook::pausePoint("diag.before-repair");  // between the snapshot and its repairs
    for (auto& f : current) {
      if (!f.fix) {
        f.outcome = "not fixable";
        continue;
      }
      auto r = f.fix();
      f.outcome = r ? "fixed" : "failed: " + r.error().msg + (r.error().details.empty() ? "" : " (" + r.error().details + ")");
    }
    merge(report, current);
    current = TRY(diagnose(ctx, kv, s, only));
    // What was "fixed" but is still there did not take.
    for (auto& f : report)
      if (f.outcome == "fixed" &&
          std::any_of(current.begin(), current.end(), [&](const Finding& c) { return id(c) == id(f); }))
        f.outcome = "still present";
  }
  if (!fix) report = current;
  else merge(report, {});
  // With --fix, report keeps every finding seen; what is left is the last diagnosis.
  if (fix)
    for (const auto& c : current)
      if (std::none_of(report.begin(), report.end(), [&](const Finding& r) { return id(r) == id(c); }))
        report.push_back(c);
  print(ctx, report, current.size(), fix);
  return current.empty() ? 0 : kExitFailure;
}

}  // namespace ovl::ctl
