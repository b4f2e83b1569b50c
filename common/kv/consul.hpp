// Consul KV client (HTTP API v1) over libcurl. Keys passed in are full keys: callers build them with
// key("relative") to add the configured prefix. Not thread-safe: one client per thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kv/consul_config.hpp"
#include "kv/consul_http.hpp"
#include "kv/consul_types.hpp"
#include "util/error.hpp"

namespace ovl::kv {

// Whether a conditional write (cas, delete-cas, a transaction holding one) may be sent again when its answer
// was lost (a leader election, a connection cut after the request left). OnlyIfUnsent: no, a copy applied
// twice would report a lost race for our own write. SelfIdentifying: the caller's write names its writer (in
// its key or value) and the caller re-reads after a lost race, so a copy that lost to its own first copy is
// recognized there; the write then rides out an election like a read does.
enum class Resend { OnlyIfUnsent, SelfIdentifying };

class ConsulClient {
 public:
  using TxnOp = kv::TxnOp;
  using TxnResult = kv::TxnResult;
  struct Watch {
    std::vector<KvPair> pairs;  // the listing; empty when `unchanged`
    uint64_t index = 0;         // pass back as waitIndex; at least 1
    bool unchanged = false;     // the index did not move (the wait ran out): the listing is the caller's last
  };

  // Validates the configuration (Code::InvalidConfig); does not contact consul.
  static Result<ConsulClient> create(ConsulConfig cfg);

  // nullopt when the key does not exist.
  Result<std::optional<KvPair>> get(std::string_view key);
  // Every key starting with prefix (a plain string prefix: "a/b" also matches "a/bc"). Empty when none.
  Result<std::vector<KvPair>> list(std::string_view prefix);
  Result<std::vector<std::string>> keys(std::string_view prefix);
  Result<void> put(std::string_view key, std::string_view value);
  // index 0: create only if absent; otherwise: replace only if ModifyIndex == index. false: lost the race.
  Result<bool> cas(std::string_view key, std::string_view value, uint64_t index,
                   Resend resend = Resend::OnlyIfUnsent);
  // Absent key: success.
  Result<void> deleteKey(std::string_view key);
  Result<bool> deleteCas(std::string_view key, uint64_t index, Resend resend = Resend::OnlyIfUnsent);
  // Deletes every key under prefix (which must be non-empty).
  Result<void> deleteTree(std::string_view prefix);
  // Atomic transaction of at most 64 operations. A conflict (HTTP 409) is committed=false with the
  // reasons in errors, not an Error.
  Result<TxnResult> txn(const std::vector<TxnOp>& ops, Resend resend = Resend::OnlyIfUnsent);
  // Who may answer a read. AnyServer (Consul's ?stale): the server asked, from its own copy, which may lag
  // the leader by its replication delay (milliseconds) and is refused when it has not heard from the leader
  // for kMaxStaleMs (then the leader answers). It spares the leader the fan-out of the daemons' watches.
  enum class ReadFrom { Leader, AnyServer };
  static constexpr uint64_t kMaxStaleMs = 2000;
  // Blocking query: returns when the prefix changes after waitIndex, or after about waitMs
  // (index unchanged). waitIndex 0 returns at once.
  // `cancel`: the wait ends (with an error) soon after it turns true.
  Result<Watch> listBlocking(std::string_view prefix, uint64_t waitIndex, long waitMs,
                             const std::atomic<bool>* cancel = nullptr, ReadFrom from = ReadFrom::Leader);
  // The listings of `prefixes` (none inside another) from the leader, in one request (a read-only
  // transaction) and from one snapshot of the store: one Watch per prefix, in order. Consul gives such a
  // read no index, so each Watch's index is the largest ModifyIndex of its records (at least 1): a lower
  // bound of the store's index then, and as new as every record listed (deletions do not raise it). The
  // request says `?overlay-read` (Consul ignores it): in a server's log it is told from a write.
  Result<std::vector<Watch>> readTrees(const std::vector<std::string>& prefixes,
                                       const std::atomic<bool>* cancel = nullptr);
  static constexpr size_t kMaxTxnOps = 64;  // operations of one transaction; prefixes of one readTrees
  // Consul answers and has a cluster leader.
  Result<void> ping();
  // The leader's RPC address as the server asked knows it ("IP:PORT"); "" when there is none.
  Result<std::string> leader(const std::atomic<bool>* cancel = nullptr);

  // Sessions (consul_session.cpp): a liveness claim without a local agent. The session has no health
  // checks, only a TTL, and its locks' keys are deleted when it expires or is destroyed.
  Result<std::string> createSession(std::string_view name, int ttlSeconds);
  // false: the session is gone (expired, or the store forgot it).
  Result<bool> renewSession(std::string_view id);
  Result<void> destroySession(std::string_view id);
  // Sets key to value held by the session; false when another session holds it.
  Result<bool> acquire(std::string_view key, std::string_view value, std::string_view session);

  const ConsulConfig& config() const { return http_.config(); }
  // prefix + "/" + relative (just relative when the prefix is empty).
  std::string key(std::string_view relative) const;

 private:
  explicit ConsulClient(HttpTransport http) : http_(std::move(http)) {}
  Result<HttpResponse> kvRequest(Method m, std::string_view key, bool prefix, std::string_view query,
                                 std::string_view body = {}, bool idempotent = true, long extraTimeoutMs = 0,
                                 const std::atomic<bool>* cancel = nullptr);

  HttpTransport http_;
};

}  // namespace ovl::kv
