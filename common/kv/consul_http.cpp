#include "kv/consul_http.hpp"

#include <openssl/ssl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "metrics/tally.hpp"
#include "util/log.hpp"

namespace ovl::kv {
namespace {

constexpr size_t kMaxBody = 32u << 20;  // a runaway answer must not eat the host's memory

using Clock = std::chrono::steady_clock;

// libcurl initialises OpenSSL whatever the scheme: besides what TLS needs, OpenSSL then registers every cipher
// and digest by name and loads the error strings of all its libraries, which touches code and tables all
// over a static binary (about 1 MiB of a plugin's peak RSS). A process whose Consul addresses are all plain
// HTTP never makes a TLS connection, so it asks OpenSSL first to skip those three (what a later TLS
// connection would still need, OpenSSL fetches from its providers). With any https:// address the default
// initialisation stays, so TLS errors keep their text.
Result<void> globalInit(bool tls) {
  static std::once_flag once;
  static CURLcode rc = CURLE_OK;
  std::call_once(once, [tls] {
    if (!tls)
      OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_SSL_STRINGS | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS |
                           OPENSSL_INIT_NO_ADD_ALL_CIPHERS | OPENSSL_INIT_NO_ADD_ALL_DIGESTS |
                           OPENSSL_INIT_NO_LOAD_CONFIG,
                       nullptr);
    rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  });
  if (rc != CURLE_OK) return fail(Code::Internal, std::string("curl_global_init failed: ") + curl_easy_strerror(rc));
  return {};
}

bool& sharingWanted() {
  static bool wanted = false;
  return wanted;
}

// The easy handle every transport of a process uses once shareConnectionsInProcess() was called: made on
// first use (curl_global_init costs a millisecond and megabytes of OpenSSL set-up: not for VERSION), lives as
// long as the process. One handle rather than a share interface between several: each easy handle, and each
// connection cache (the one curl_easy_perform makes per handle, the share's own), sets up a c-ares channel
// of 73 KiB that it writes all over; an overlay ADD with its in-process IPAM had five (issue 17, peak RSS).
CURL* processHandle() {
  static CURL* handle = curl_easy_init();
  return handle;
}

struct Sink {
  std::string body;
  uint64_t consulIndex = 0;
  std::optional<uint64_t> lastContactMs;
  bool knownLeader = true;
  bool overflow = false;
};

size_t onBody(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<Sink*>(user);
  size_t len = size * n;
  if (s->body.size() + len > kMaxBody) {
    s->overflow = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  s->body.append(data, len);
  return len;
}

// The value of header `name` (lower case, with its colon) when `line` is that header.
std::optional<std::string_view> headerValue(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() ||
      !std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) { return a == std::tolower(b); }))
    return std::nullopt;
  return line.substr(name.size());
}

uint64_t digits(std::string_view v) {
  uint64_t out = 0;
  for (char c : v) {
    if (c >= '0' && c <= '9') {
      if (out > (UINT64_MAX - 9) / 10) break;
      out = out * 10 + uint64_t(c - '0');
    }
  }
  return out;
}

size_t onHeader(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<Sink*>(user);
  size_t len = size * n;
  std::string_view line(data, len);
  if (auto v = headerValue(line, "x-consul-index:")) s->consulIndex = digits(*v);
  else if (auto v = headerValue(line, "x-consul-lastcontact:")) s->lastContactMs = digits(*v);
  else if (auto v = headerValue(line, "x-consul-knownleader:")) s->knownLeader = v->find("true") != v->npos;
  return len;
}

// Short, printable excerpt of an answer body for error messages.
std::string excerpt(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, 200)) out.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

long msUntil(Clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
}

// Failed attempts for the error details; repeats of the same failure are counted, not repeated.
struct Attempts {
  std::vector<std::pair<std::string, int>> items;
  void add(std::string what) {
    if (!items.empty() && items.back().first == what)
      ++items.back().second;
    else
      items.emplace_back(std::move(what), 1);
  }
  std::string str() const {
    std::string out;
    for (const auto& [what, n] : items) {
      if (!out.empty()) out += "; ";
      out += what;
      if (n > 1) out += " (x" + std::to_string(n) + ")";
    }
    return out;
  }
};

const char* methodName(Method m) {
  switch (m) {
    case Method::Get:
      return "GET";
    case Method::Put:
      return "PUT";
    case Method::Delete:
      return "DELETE";
  }
  return "GET";
}

}  // namespace

struct HttpTransport::Attempt {
  // NotApplied: consul answered that it did not apply the request (no leader, or the server could not reach
  // the leader): safe to send again, even a write.
  enum Kind { Ok, ConnectFailed, NotApplied, Transient, Fatal } kind = Fatal;
  HttpResponse response;
  Error error;
  bool timedOut = false;  // the address is down (no answer in time, unreachable): not again in this call
};

void shareConnectionsInProcess() { sharingWanted() = true; }

Result<HttpTransport> HttpTransport::create(ConsulConfig cfg) {
  TRY_VOID(validate(cfg));
  for (auto& a : cfg.addresses) a = TRY(normalizeAddress(a));
  for (const auto* f : {&cfg.caFile, &cfg.certFile, &cfg.keyFile})
    if (!f->empty() && ::access(f->c_str(), R_OK) != 0)
      return fail(Code::InvalidConfig, "cannot read consul TLS file " + *f);
  if (cfg.certFile.empty() != cfg.keyFile.empty())
    return fail(Code::InvalidConfig, "consul certFile and keyFile must be set together");
  TRY_VOID(globalInit(std::ranges::any_of(cfg.addresses, [](const std::string& a) { return a.starts_with("https:"); })));
  if (sharingWanted()) {
    CURL* h = processHandle();
    if (!h) return fail(Code::Internal, "curl_easy_init failed");
    return HttpTransport(std::move(cfg), CurlPtr(), h);
  }
  CurlPtr h(curl_easy_init());
  if (!h) return fail(Code::Internal, "curl_easy_init failed");
  CURL* raw = h.get();
  return HttpTransport(std::move(cfg), std::move(h), raw);
}

Result<void> HttpTransport::ensureToken() {
  if (tokenHeader_) return {};
  auto token = TRY(resolveToken(cfg_));
  tokenHeader_ = token.empty() ? std::string() : "X-Consul-Token: " + token;
  return {};
}

namespace {

int onProgress(void* cancel, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(cancel)->load() ? 1 : 0;
}

void setOptions(CURL* h, const ConsulConfig& cfg, const HttpRequest& req, const std::string& url, curl_slist* headers,
                long timeoutMs, char* errbuf, Sink* sink) {
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  if (req.cancel) {  // checked about once a second by libcurl while it waits
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, onProgress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(req.cancel));
  }
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");  // a runtime's proxy settings are for images, not for consul
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "overlay-cni");
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, std::min(cfg.connectTimeoutMs, timeoutMs));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeoutMs);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, sink);
  // libcurl silently sends a request again on a new connection when a reused one dies before the answer; if
  // that connect fails, the transfer reports a connect failure although the server got the request. A
  // request that must not be resent therefore always gets a connection of its own: then a connect failure
  // means it was not sent.
  curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, req.idempotent ? 0L : 1L);
  if (req.method != Method::Get) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, methodName(req.method));
  if (req.method == Method::Put) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.empty() ? "" : req.body.data());
  }
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, cfg.tlsSkipVerify ? 0L : 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, cfg.tlsSkipVerify ? 0L : 2L);
  if (!cfg.caFile.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, cfg.caFile.c_str());
  if (!cfg.certFile.empty()) curl_easy_setopt(h, CURLOPT_SSLCERT, cfg.certFile.c_str());
  if (!cfg.keyFile.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, cfg.keyFile.c_str());
}

// Answers of a server that did not apply the request: during an election there is no leader, or the server
// cannot open a connection to it. ("rpc error making call: EOF" and timeouts are not here: the leader may have
// applied those.)
bool notApplied(std::string_view body) {
  for (std::string_view s : {"No cluster leader", "rpc error getting client", "failed to get conn"})
    if (body.find(s) != std::string_view::npos) return true;
  return false;
}

// Nothing of ours may stay referenced by the handle after a transfer.
void clearOptions(CURL* h) {
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, nullptr);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, nullptr);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, nullptr);
}

}  // namespace

HttpTransport::Attempt HttpTransport::perform(size_t addrIndex, const HttpRequest& req, long timeoutMs) {
  const std::string& addr = cfg_.addresses[addrIndex];
  CURL* h = curl_;
  curl_easy_reset(h);  // keeps the connection cache: keep-alive survives

  Attempt a;
  CurlSlistPtr headers(curl_slist_append(nullptr, "Expect:"));
  if (headers && !tokenHeader_->empty() && !curl_slist_append(headers.get(), tokenHeader_->c_str())) headers.reset();
  if (!headers) {
    a.error = makeError(Code::Internal, "out of memory building consul request headers");
    return a;
  }
  std::string url = addr + req.path;
  char errbuf[CURL_ERROR_SIZE] = {};
  Sink sink;
  setOptions(h, cfg_, req, url, headers.get(), timeoutMs, errbuf, &sink);
  metrics::countStoreRequest();
  CURLcode rc = curl_easy_perform(h);
  clearOptions(h);
  if (rc != CURLE_OK)
    return curlFailure(rc, addr, errbuf[0] ? errbuf : curl_easy_strerror(rc), sink.overflow, timeoutMs);

  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if ((status >= 200 && status < 300) || status == 404 || status == 409) {
    a.kind = Attempt::Ok;
    a.response = HttpResponse{status, std::move(sink.body), sink.consulIndex, addr, sink.lastContactMs, sink.knownLeader};
    return a;
  }
  return httpFailure(status, addr, sink.body, req.method);
}

HttpTransport::Attempt HttpTransport::curlFailure(CURLcode rc, const std::string& addr, std::string detail,
                                                  bool overflow, long timeoutMs) {
  Attempt a;
  auto set = [&](Attempt::Kind k, Code code, std::string msg) {
    a.kind = k;
    a.error = makeError(code, std::move(msg), std::move(detail));
    return a;
  };
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT: {
      // Refused: consul may be restarting, a retry can help. Host or network unreachable: it cannot
      // soon, so do not try that address again in this call (each try costs an ARP timeout).
      long osErrno = 0;
      curl_easy_getinfo(curl_, CURLINFO_OS_ERRNO, &osErrno);
      if (osErrno != 0) detail += std::string(" (") + std::strerror(static_cast<int>(osErrno)) + ")";
      a.timedOut = rc == CURLE_COULDNT_CONNECT && osErrno != ECONNREFUSED;
      return set(Attempt::ConnectFailed, Code::TryAgainLater,
                 "consul at " + addr + " is unreachable: " + curl_easy_strerror(rc));
    }
    case CURLE_OPERATION_TIMEDOUT: {
      curl_off_t pretransfer = 0;  // 0: the request was never sent
      curl_easy_getinfo(curl_, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
      a.timedOut = true;
      if (pretransfer == 0)
        return set(Attempt::ConnectFailed, Code::TryAgainLater,
                   "consul at " + addr + " is unreachable: no connection within " +
                       std::to_string(std::min(cfg_.connectTimeoutMs, timeoutMs)) + " ms");
      return set(Attempt::Transient, Code::TryAgainLater,
                 "consul at " + addr + " did not answer within " + std::to_string(timeoutMs) + " ms");
    }
    case CURLE_PEER_FAILED_VERIFICATION:
      return set(Attempt::Fatal, Code::InvalidConfig,
                 "consul at " + addr + ": the TLS certificate was not trusted (set caFile / CONSUL_CACERT)");
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CONNECT_ERROR:
      return set(Attempt::Fatal, Code::InvalidConfig,
                 "TLS with consul at " + addr + " failed: " + curl_easy_strerror(rc));
    case CURLE_WRITE_ERROR:
      if (overflow) return set(Attempt::Fatal, Code::Decode, "answer from consul at " + addr + " exceeds 32 MiB");
      [[fallthrough]];
    default:
      // The server refused our client certificate; with TLS 1.3 this surfaces on the first read.
      if (detail.find("alert bad certificate") != std::string::npos ||
          detail.find("alert certificate required") != std::string::npos ||
          detail.find("alert unknown ca") != std::string::npos)
        return set(Attempt::Fatal, Code::InvalidConfig,
                   cfg_.certFile.empty()
                       ? "consul at " + addr + " requires a client certificate (set certFile and keyFile)"
                       : "consul at " + addr + " rejected the client certificate " + cfg_.certFile);
      // The connection broke after the request may have been sent.
      return set(Attempt::Transient, Code::TryAgainLater,
                 "connection to consul at " + addr + " failed: " + curl_easy_strerror(rc));
  }
}

HttpTransport::Attempt HttpTransport::httpFailure(long status, const std::string& addr, std::string_view body,
                                                  Method method) {
  Attempt a;
  std::string http = " (HTTP " + std::to_string(status) + ")";
  std::string detail = excerpt(body);
  auto set = [&](Attempt::Kind k, Code code, std::string msg) {
    a.kind = k;
    a.error = makeError(code, std::move(msg), detail);
    return a;
  };
  if (status == 403)
    return set(Attempt::Fatal, Code::InvalidConfig,
               "consul at " + addr + " denied access (ACL token missing or invalid)");
  if (status >= 500 && notApplied(body))
    return set(Attempt::NotApplied, Code::TryAgainLater, "consul at " + addr + " is not ready" + http + ": " + detail);
  if (status >= 500 || status == 429)
    return set(Attempt::Transient, Code::TryAgainLater, "consul at " + addr + " is not ready" + http + ": " + detail);
  if (status == 400 && body.find("HTTPS server") != std::string_view::npos)
    return set(Attempt::Fatal, Code::InvalidConfig, "consul at " + addr + " expects HTTPS: use an https:// address");
  return set(Attempt::Fatal, Code::Internal,
             "consul at " + addr + " rejected " + methodName(method) + http + ": " + detail);
}

Result<HttpResponse> HttpTransport::send(const HttpRequest& req) {
  metrics::PhaseTimer timer(metrics::Phase::Store);
  TRY_VOID(ensureToken());
  const auto deadline = Clock::now() + std::chrono::milliseconds(cfg_.requestTimeoutMs + req.extraTimeoutMs);
  const size_t n = cfg_.addresses.size();
  std::vector<bool> skip(n, false);
  std::vector<std::string> tried;  // addresses in the order they failed, for the message
  Attempts attempts;
  std::optional<Error> last;
  bool allUnreachable = true;
  // Connection failures get `retries` passes; an election (nothing applied, or an idempotent request that
  // failed in transit) gets passes until the deadline, so that a leader change of a few seconds is ridden out.
  bool electing = false;
  for (int pass = 0; pass <= cfg_.retries || electing; ++pass) {
    if (pass > 0) {
      long backoff = std::min(100L << std::min(pass - 1, 3), 500L);
      long left = msUntil(deadline);
      if (left <= backoff) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
    }
    electing = false;
    bool triedAny = false;
    for (size_t k = 0; k < n; ++k) {
      size_t idx = (current_ + k) % n;
      long left = msUntil(deadline);
      if (skip[idx] || left <= 0) continue;
      triedAny = true;
      Attempt a = perform(idx, req, left);
      if (req.cancel && req.cancel->load()) return fail(Code::TryAgainLater, "consul request cancelled");
      if (a.kind == Attempt::Ok) {
        current_ = idx;
        return std::move(a.response);
      }
      log::debug(a.error.msg + ": " + a.error.details);
      attempts.add(cfg_.addresses[idx] + ": " + a.error.details);
      if (std::find(tried.begin(), tried.end(), cfg_.addresses[idx]) == tried.end())
        tried.push_back(cfg_.addresses[idx]);
      if (a.timedOut) skip[idx] = true;
      allUnreachable = allUnreachable && a.kind == Attempt::ConnectFailed;
      const bool election = a.kind == Attempt::NotApplied || (a.kind == Attempt::Transient && req.idempotent);
      electing = electing || election;
      bool retryable = a.kind == Attempt::ConnectFailed || election;
      last = std::move(a.error);
      if (!retryable) {
        last->details = attempts.str();
        return fail(std::move(*last));
      }
    }
    if (!triedAny) break;
  }
  if (!last) return fail(Code::TryAgainLater, "consul request timed out before it could be sent");
  if (allUnreachable && tried.size() > 1) {
    // "consul at A, B is unreachable: ..." names every address that was tried.
    std::string all;
    for (const auto& t : tried) all += (all.empty() ? "" : ", ") + t;
    auto colon = last->msg.find(" is unreachable: ");
    if (colon != std::string::npos) last->msg = "consul at " + all + last->msg.substr(colon);
  }
  last->details = attempts.str();
  return fail(std::move(*last));
}

}  // namespace ovl::kv
