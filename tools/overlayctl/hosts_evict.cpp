// overlayctl hosts evict HOST: removes a dead host's records from the store.
#include <ctime>
#include <iostream>
#include <map>

#include "model/health.hpp"
#include "model/keys.hpp"
#include "overlayctl/cli.hpp"
#include "overlayctl/commands.hpp"
#include "overlayctl/snapshot.hpp"

namespace ovl::ctl {
namespace {

using Op = kv::TxnOp;
using Kind = model::Keys::Kind;

// A host without a watcher holds no session, so its absence from P/alive/ proves nothing: it is taken for
// dead only when it has written neither its claim nor an attachment for this long (or with --force).
constexpr int64_t kStaleSeconds = 10 * 60;

// The host's keys: memberships, attachments, owner indexes, its claim; leases it holds (at their index, so
// that a lease given to someone else meanwhile stays).
Result<std::vector<Op>> evictionOps(kv::ConsulClient& kv, const Snapshot& snap, const std::string& host,
                                    std::map<std::string, int>& counts) {
  const model::Keys keys(kv.key(""));
  std::vector<Op> ops;
  for (const auto& k : TRY(kv.keys(keys.root()))) {
    auto c = keys.classify(k);
    if (c.host != host) continue;
    if (c.kind == Kind::Member) ++counts["memberships"];
    else if (c.kind == Kind::Attachment) ++counts["attachments"];
    else if (c.kind == Kind::Owner) ++counts["owner indexes"];
    else if (c.kind == Kind::Host) ++counts["claims"];
    else if (c.kind == Kind::HealthReport) ++counts["health records"];
    else if (c.kind == Kind::HealthHost) {
      ++counts["health records"];
      // Its address on the health mesh goes with it (P/health/addrs/<ip> names the holder).
      if (auto rec = TRY(kv.get(k)))
        if (auto hh = model::parseHealthHost(k, host, rec->value))
          ops.push_back(Op{Op::Delete, keys.healthAddr(hh->addr.str()), "", 0});
    } else {
      continue;
    }
    ops.push_back(Op{Op::Delete, k, "", 0});
  }
  for (const auto& l : snap.leases)
    if (l.host == host) {
      ops.push_back(Op{Op::DeleteCas, keys.lease(l.pool, l.ip), "", l.version});
      ++counts["leases"];
    }
  return ops;
}

}  // namespace

Result<int> evictHost(const Args& a, const std::string& host) {
  auto ctx = TRY(makeContext(a));
  auto kv = TRY(connect(ctx));
  auto snap = TRY(readSnapshot(kv));
  if (snap.alive.count(host))
    return fail(Code::InvalidConfig, "host '" + host + "' is alive (its overlay watch holds " +
                                         model::Keys(kv.key("")).alive(host) +
                                         "): stop it, or wait for its session to expire, before evicting it");
  const int64_t now = std::time(nullptr), last = lastActivity(snap, host);
  if (!a.has("--force") && last && now - last < kStaleSeconds)
    return fail(Code::InvalidConfig,
                "host '" + host + "' runs no watcher, but wrote its claim or an attachment " + std::to_string(now - last) +
                    " s ago and may still have live containers: evict it once its records are " +
                    std::to_string(kStaleSeconds / 60) + " minutes old, or now with --force if it is certainly dead");
  std::map<std::string, int> counts;
  auto ops = TRY(evictionOps(kv, snap, host, counts));
  if (ops.empty()) return fail(Code::InvalidConfig, "the store holds nothing of host '" + host + "'");
  for (size_t i = 0; i < ops.size(); i += 64) {
    std::vector<Op> chunk(ops.begin() + long(i), ops.begin() + long(std::min(ops.size(), i + 64)));
    auto r = TRY(kv.txn(chunk));
    if (!r.committed)
      return fail(Code::TryAgainLater, "the store changed while evicting '" + host + "': run it again (" +
                                           join(r.errors, "; ") + ")");
  }
  std::string summary;
  for (const auto& [what, n] : counts) summary += (summary.empty() ? "" : ", ") + std::to_string(n) + " " + what;
  std::cout << "evicted " << host << ": " << summary << "\n";
  return 0;
}

}  // namespace ovl::ctl
