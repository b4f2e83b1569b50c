#include "kv/consul.hpp"

#include <algorithm>

#include "kv/consul_json.hpp"
#include "kv/consul_key.hpp"
#include "metrics/tally.hpp"
#include "util/log.hpp"

namespace ovl::kv {
namespace {

// A conditional write that lost its race: the caller reads again and retries.
Result<bool> countConflict(Result<bool> applied) {
  if (applied && !*applied) metrics::countCasConflict();
  return applied;
}

constexpr size_t kMaxValue = 512 * 1024;  // consul's default kv_max_value_size

Result<void> checkValue(std::string_view key, std::string_view value) {
  if (value.size() > kMaxValue)
    return fail(Code::InvalidConfig, "value for consul key " + std::string(key) + " exceeds 512 KiB");
  return {};
}

std::unexpected<Error> unexpectedStatus(const HttpResponse& r, std::string_view what) {
  return fail(Code::Internal,
              "consul at " + r.address + " answered HTTP " + std::to_string(r.status) + " to " + std::string(what));
}

}  // namespace

Result<ConsulClient> ConsulClient::create(ConsulConfig cfg) {
  auto http = TRY(HttpTransport::create(std::move(cfg)));
  return ConsulClient(std::move(http));
}

std::string ConsulClient::key(std::string_view relative) const { return prefixedKey(config(), relative); }

Result<HttpResponse> ConsulClient::kvRequest(Method m, std::string_view key, bool prefix, std::string_view query,
                                             std::string_view body, bool idempotent, long extraTimeoutMs,
                                             const std::atomic<bool>* cancel) {
  TRY_VOID(validateKey(key, prefix));
  HttpRequest req;
  req.method = m;
  req.path = "/v1/kv/" + escapeKeyPath(key);
  if (!query.empty()) req.path.append("?").append(query);
  req.body = body;
  req.idempotent = idempotent;
  req.extraTimeoutMs = extraTimeoutMs;
  req.cancel = cancel;
  return http_.send(req);
}

Result<std::optional<KvPair>> ConsulClient::get(std::string_view key) {
  auto r = TRY(kvRequest(Method::Get, key, false, {}));
  if (r.status == 404) return std::optional<KvPair>{};
  if (r.status != 200) return unexpectedStatus(r, "a get");
  auto pairs = TRY(parseKvList(r.body));
  for (auto& p : pairs)
    if (p.key == key) return std::optional<KvPair>(std::move(p));
  return std::optional<KvPair>{};
}

Result<std::vector<KvPair>> ConsulClient::list(std::string_view prefix) {
  auto r = TRY(kvRequest(Method::Get, prefix, true, "recurse=true"));
  if (r.status == 404) return std::vector<KvPair>{};
  if (r.status != 200) return unexpectedStatus(r, "a list");
  return parseKvList(r.body);
}

Result<std::vector<std::string>> ConsulClient::keys(std::string_view prefix) {
  auto r = TRY(kvRequest(Method::Get, prefix, true, "keys=true"));
  if (r.status == 404) return std::vector<std::string>{};
  if (r.status != 200) return unexpectedStatus(r, "a key list");
  return parseKeyList(r.body);
}

Result<void> ConsulClient::put(std::string_view key, std::string_view value) {
  TRY_VOID(checkValue(key, value));
  auto r = TRY(kvRequest(Method::Put, key, false, {}, value));
  if (r.status != 200) return unexpectedStatus(r, "a put");
  bool ok = TRY(parseBoolBody(r.body));
  if (!ok) return fail(Code::Internal, "consul at " + r.address + " refused to store " + std::string(key));
  return {};
}

Result<bool> ConsulClient::cas(std::string_view key, std::string_view value, uint64_t index, Resend resend) {
  TRY_VOID(checkValue(key, value));
  auto r = TRY(kvRequest(Method::Put, key, false, "cas=" + std::to_string(index), value,
                         resend == Resend::SelfIdentifying));
  if (r.status != 200) return unexpectedStatus(r, "a cas");
  return countConflict(parseBoolBody(r.body));
}

Result<void> ConsulClient::deleteKey(std::string_view key) {
  auto r = TRY(kvRequest(Method::Delete, key, false, {}));
  if (r.status != 200 && r.status != 404) return unexpectedStatus(r, "a delete");
  return {};
}

Result<bool> ConsulClient::deleteCas(std::string_view key, uint64_t index, Resend resend) {
  auto r = TRY(kvRequest(Method::Delete, key, false, "cas=" + std::to_string(index), {},
                         resend == Resend::SelfIdentifying));
  if (r.status != 200) return unexpectedStatus(r, "a delete-cas");
  return countConflict(parseBoolBody(r.body));
}

Result<void> ConsulClient::deleteTree(std::string_view prefix) {
  auto r = TRY(kvRequest(Method::Delete, prefix, true, "recurse=true"));
  if (r.status != 200 && r.status != 404) return unexpectedStatus(r, "a tree delete");
  return {};
}

Result<TxnResult> ConsulClient::txn(const std::vector<TxnOp>& ops, Resend resend) {
  if (ops.empty()) return TxnResult{true, {}, {}};
  if (ops.size() > kMaxTxnOps) return fail(Code::Internal, "consul transaction with more than 64 operations");
  // Reads and unconditional sets and deletes give the same result when applied twice, so a lost answer may be
  // resent; a cas, delete-cas or check applied once would report a lost race the second time, unless the
  // caller recognizes its own write (Resend::SelfIdentifying).
  bool conditional = false;
  for (const auto& op : ops) {
    TRY_VOID(validateKey(op.key, op.verb == TxnOp::DeleteTree || op.verb == TxnOp::GetTree));
    TRY_VOID(checkValue(op.key, op.value));
    conditional = conditional || op.verb == TxnOp::Cas || op.verb == TxnOp::DeleteCas ||
                  op.verb == TxnOp::CheckIndex || op.verb == TxnOp::CheckNotExists;
  }
  std::string body = buildTxnBody(ops);
  const bool idempotent = !conditional || resend == Resend::SelfIdentifying;
  HttpRequest req{Method::Put, "/v1/txn", body, idempotent, 0};
  auto r = TRY(http_.send(req));
  if (r.status != 200 && r.status != 409) return unexpectedStatus(r, "a transaction");
  return parseTxnResponse(r.body, r.status);
}

Result<std::vector<ConsulClient::Watch>> ConsulClient::readTrees(const std::vector<std::string>& prefixes,
                                                                  const std::atomic<bool>* cancel) {
  if (prefixes.empty()) return std::vector<Watch>{};
  if (prefixes.size() > kMaxTxnOps) return fail(Code::Internal, "consul read of more than 64 prefixes");
  std::vector<TxnOp> ops;
  for (const auto& p : prefixes) {
    TRY_VOID(validateKey(p, true));
    for (const auto& q : prefixes)
      if (&p != &q && p.starts_with(q))  // its records would be listed twice, and be told apart by nothing
        return fail(Code::Internal, "consul read of prefix " + p + " inside prefix " + q);
    ops.push_back({TxnOp::GetTree, p, {}, 0});
  }
  const std::string body = buildTxnBody(ops);
  HttpRequest req{Method::Put, "/v1/txn?overlay-read", body, true, 0, cancel};
  auto r = TRY(http_.send(req));
  if (r.status != 200) return unexpectedStatus(r, "a read transaction");
  auto res = TRY(parseTxnResponse(r.body, r.status));
  std::vector<Watch> out(prefixes.size());
  for (auto& kv : res.results) {
    auto of = std::find_if(prefixes.begin(), prefixes.end(), [&](const std::string& p) { return kv.key.starts_with(p); });
    if (of == prefixes.end())
      return fail(Code::Decode, "consul at " + r.address + " listed key " + kv.key + ", under none of the prefixes read");
    Watch& w = out[static_cast<size_t>(of - prefixes.begin())];
    w.index = std::max(w.index, kv.modifyIndex);
    w.pairs.push_back(std::move(kv));
  }
  for (auto& w : out) w.index = std::max<uint64_t>(w.index, 1);
  return out;
}

Result<ConsulClient::Watch> ConsulClient::listBlocking(std::string_view prefix, uint64_t waitIndex, long waitMs,
                                                       const std::atomic<bool>* cancel, ReadFrom from) {
  if (waitMs < 0) waitMs = 0;
  std::string query = "recurse=true";
  if (from == ReadFrom::AnyServer) query += "&stale";
  long extra = 0;
  if (waitIndex > 0) {
    query += "&index=" + std::to_string(waitIndex) + "&wait=" + std::to_string(waitMs) + "ms";
    extra = waitMs + waitMs / 16;  // consul adds up to wait/16 of jitter
  }
  auto r = TRY(kvRequest(Method::Get, prefix, true, query, {}, true, extra, cancel));
  if (from == ReadFrom::AnyServer && (!r.knownLeader || r.lastContactMs.value_or(0) > kMaxStaleMs)) {
    // The server that answered lost touch with the leader: what it holds may be old. The leader's, at once.
    log::debug("consul at " + r.address + ": no contact with the leader for " +
               std::to_string(r.lastContactMs.value_or(0)) + " ms; reading " + std::string(prefix) + " from the leader");
    r = TRY(kvRequest(Method::Get, prefix, true, "recurse=true", {}, true, 0, cancel));
  }
  Watch w;
  if (r.status != 200 && r.status != 404) return unexpectedStatus(r, "a blocking list");
  // A wait that ran out returns the same listing again: the caller has it, so it is not parsed.
  w.unchanged = waitIndex > 0 && r.consulIndex == waitIndex;
  if (r.status == 200 && !w.unchanged) w.pairs = TRY(parseKvList(r.body));
  // Consul's rules for blocking clients: never go below 1, reset when the index goes backwards.
  w.index = r.consulIndex;
  if (w.index < waitIndex) w.index = 0;
  if (w.index < 1) w.index = 1;
  return w;
}

Result<std::string> ConsulClient::leader(const std::atomic<bool>* cancel) {
  auto r = TRY(http_.send(HttpRequest{Method::Get, "/v1/status/leader", {}, true, 0, cancel}));
  if (r.status != 200) return unexpectedStatus(r, "a status query");
  return parseLeader(r.body);
}

Result<void> ConsulClient::ping() {
  auto r = TRY(http_.send(HttpRequest{Method::Get, "/v1/status/leader", {}, true, 0}));
  if (r.status != 200) return unexpectedStatus(r, "a status query");
  auto leader = TRY(parseLeader(r.body));
  if (leader.empty()) return fail(Code::TryAgainLater, "consul at " + r.address + " has no cluster leader");
  return {};
}

}  // namespace ovl::kv
