// Where and how to reach Consul: parsed from a store URL, a JSON object in a plugin config, and the
// CONSUL_* environment variables the consul CLI uses.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace ovl::kv {

struct ConsulConfig {
  std::vector<std::string> addresses;  // "http://h:p" or "https://h:p"; tried in turn, from the first
  std::string token;                   // never logged, never put in an error or a URL
  std::string tokenFile;               // read when the client first needs it; wins over token
  std::string caFile, certFile, keyFile;
  bool tlsSkipVerify = false;
  std::string prefix = "overlay-cni";
  long connectTimeoutMs = 1000;
  long requestTimeoutMs = 10000;  // above consul's rpc_hold_timeout (7 s): an election is ridden out
  int retries = 2;  // extra passes over the address list after a connection failure
  // Who answers the daemons' blocking queries (kv::ChangeFeed). The leader answers as soon as a write
  // commits; any server (?stale) spreads the fan-out over the servers, but a follower applies a write only
  // when the leader next tells it the commit index, which without further writes takes hashicorp/raft's
  // CommitTimeout, 50-100 ms (measured: 88 ms median against 20 ms from the leader). Auto: the leader
  // while a prefix is quiet, any server while its changes follow each other within 300 ms (in a burst,
  // each write tells the followers of the one before, and the leader's CPU is what runs out).
  enum class WatchReads { Auto, Leader, AnyServer } watchReads = WatchReads::Auto;
  // Which address a host tries first (spreadAddresses). Listed: the list's order (a local Consul agent
  // first, or one server that takes every client's requests and blocking queries while another stays free
  // to acknowledge the leader's appends). Spread: one chosen by the host's name, so that hosts given the
  // same list of servers share their answers among them: every server answers for the cluster (reads and
  // blocking queries are forwarded to the leader, or answered by the server itself with ?stale), but each
  // one then also serves the fan-out, and a write commits only when a follower has acknowledged it
  // (measured in docs/scale.md 4h: on one 2-core machine spreading made 50-host bursts 2.2x slower).
  enum class AddressOrder { Listed, Spread } addressOrder = AddressOrder::Listed;
};

// "consul://H:P" (http), "consul+https://H:P", "http://H:P", "https://H:P" or a bare "H:P" (http),
// several separated by commas. IPv6 hosts in brackets. The port defaults to 8500 (http) / 8501 (https).
Result<ConsulConfig> parseStoreUrl(std::string_view url);

// Normalizes one address to "scheme://host:port"; Code::InvalidConfig when it is not one.
Result<std::string> normalizeAddress(std::string_view address, bool defaultHttps = false);

// Fills fields that are still unset from CONSUL_HTTP_ADDR, CONSUL_HTTP_SSL, CONSUL_HTTP_SSL_VERIFY,
// CONSUL_HTTP_TOKEN, CONSUL_HTTP_TOKEN_FILE, CONSUL_CACERT, CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY.
// Token and token file are taken from the environment only when neither is set.
// An invalid CONSUL_HTTP_ADDR is kept as given and reported by validate()/ConsulClient::create().
void applyEnvDefaults(ConsulConfig& cfg);

// Reads {"addresses": [..] | "a,b", "token", "tokenFile", "caFile", "certFile", "keyFile",
// "tlsSkipVerify", "prefix", "connectTimeoutMs", "requestTimeoutMs", "retries", "watchReads",
// "addressOrder"} into cfg.
// Errors name the key with fieldPrefix, e.g. "consul.addresses must be an array of strings".
Result<void> parseConsulObject(const rapidjson::Value& obj, ConsulConfig& cfg, std::string_view fieldPrefix);

// With AddressOrder::Spread, rotates cfg.addresses so that they start at the one `hostName` picks (FNV-1a
// of the name, modulo their number): the same host always starts at the same server, the others follow in
// the list's order for failover. Listed: leaves them. Not idempotent (a second call moves the start
// again): resolveStore calls it once.
void spreadAddresses(ConsulConfig& cfg, std::string_view hostName);

// Moves the address of the server whose RPC address is `leaderRpc` (what /v1/status/leader answers,
// "IP:PORT" or "[IPv6]:PORT") to the front of cfg.addresses, the others keeping their order; the same host
// (the HTTP port differs from the RPC one) identifies it. False, the list unchanged, when none has that host
// (host names, an agent in front of the servers, an empty answer). Idempotent.
bool putLeaderFirst(ConsulConfig& cfg, std::string_view leaderRpc);

// Checks addresses, timeouts and the prefix; Code::InvalidConfig otherwise.
Result<void> validate(const ConsulConfig& cfg);

// The token to send: tokenFile's first line when set (missing/unreadable file: InvalidConfig naming
// the file), else token. May be empty.
Result<std::string> resolveToken(const ConsulConfig& cfg);

// cfg.prefix + "/" + relative (just relative when the prefix is empty): the full name of a key.
std::string prefixedKey(const ConsulConfig& cfg, std::string_view relative);

}  // namespace ovl::kv
