// HTTP transport to Consul over one libcurl easy handle (keep-alive across requests): address
// fail-over, bounded retries, timeouts, TLS, the ACL token header, and the mapping of transport
// failures and HTTP statuses to ovl::Error. Not thread-safe: one transport per thread.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "kv/consul_config.hpp"
#include "util/error.hpp"

namespace ovl::kv {

struct CurlEasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
using CurlPtr = std::unique_ptr<CURL, CurlEasyDeleter>;
struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// From now on every transport of this process uses one libcurl easy handle, and so one connection cache: a
// plugin and the plugin it runs in-process (cni/delegate.hpp) talk to Consul over one connection. Only for
// single-threaded processes whose transports never send concurrently: the short-lived plugins call it, the
// daemons do not.
void shareConnectionsInProcess();

enum class Method { Get, Put, Delete };

struct HttpRequest {
  Method method = Method::Get;
  std::string path;         // already escaped, e.g. "/v1/kv/overlay-cni/a%3Ab?recurse=true"
  std::string_view body;    // PUT only
  bool idempotent = true;   // may be resent after it possibly reached consul (else: only on connect failure,
                            // and it is sent on a new connection so that a connect failure means "not sent")
  long extraTimeoutMs = 0;  // blocking queries: the wait, added to requestTimeoutMs
  const std::atomic<bool>* cancel = nullptr;  // when it turns true the transfer stops (a daemon's SIGTERM)
};

struct HttpResponse {
  long status = 0;  // 2xx, 404 or 409; every other status is turned into an Error
  std::string body;
  uint64_t consulIndex = 0;  // X-Consul-Index, 0 when absent
  std::string address;       // the address that answered
  // A stale read's age: X-Consul-LastContact (ms since the answering server heard from the leader) and
  // X-Consul-KnownLeader.
  std::optional<uint64_t> lastContactMs;
  bool knownLeader = true;
};

class HttpTransport {
 public:
  // Validates cfg (normalizing the addresses) and checks that the TLS files are readable.
  static Result<HttpTransport> create(ConsulConfig cfg);

  const ConsulConfig& config() const { return cfg_; }

  Result<HttpResponse> send(const HttpRequest& req);

 private:
  struct Attempt;
  HttpTransport(ConsulConfig cfg, CurlPtr owned, CURL* h) : cfg_(std::move(cfg)), owned_(std::move(owned)), curl_(h) {}
  Attempt perform(size_t addrIndex, const HttpRequest& req, long timeoutMs);
  Attempt curlFailure(CURLcode rc, const std::string& addr, std::string detail, bool overflow, long timeoutMs);
  Attempt httpFailure(long status, const std::string& addr, std::string_view body, Method method);
  Result<void> ensureToken();

  ConsulConfig cfg_;
  CurlPtr owned_;  // empty when the transport uses the process's handle (shareConnectionsInProcess)
  CURL* curl_;
  size_t current_ = 0;                      // the address that answered last
  std::optional<std::string> tokenHeader_;  // "X-Consul-Token: ...", read once
};

}  // namespace ovl::kv
