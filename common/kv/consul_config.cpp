#include "kv/consul_config.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "kv/consul_key.hpp"
#include "util/file.hpp"
#include "util/ip.hpp"

namespace ovl::kv {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool hostChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_'; }

const char* envOrNull(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

bool truthy(std::string_view v) { return v == "1" || v == "true" || v == "TRUE" || v == "True"; }
bool falsy(std::string_view v) { return v == "0" || v == "false" || v == "FALSE" || v == "False"; }

}  // namespace

Result<std::string> normalizeAddress(std::string_view address, bool defaultHttps) {
  std::string_view s = trim(address);
  auto bad = [&](std::string_view why) {
    return fail(Code::InvalidConfig,
                "invalid consul address \"" + std::string(s.substr(0, 200)) + "\": " + std::string(why));
  };
  if (s.empty()) return bad("empty");
  bool https = defaultHttps;
  if (size_t p = s.find("://"); p != std::string_view::npos) {
    std::string_view scheme = s.substr(0, p);
    if (scheme == "consul" || scheme == "consul+http" || scheme == "http")
      https = false;
    else if (scheme == "consul+https" || scheme == "https")
      https = true;
    else
      return bad("unsupported scheme (use consul://, consul+https://, http:// or https://)");
    s.remove_prefix(p + 3);
  }
  if (!s.empty() && s.back() == '/') s.remove_suffix(1);
  if (s.find_first_of("@/?#") != std::string_view::npos) return bad("expected HOST:PORT without user, path or query");
  std::string_view host, port;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return bad("unterminated '[' in IPv6 host");
    host = s.substr(0, close + 1);
    std::string_view inner = host.substr(1, host.size() - 2);
    if (inner.empty()) return bad("empty host");
    for (char c : inner)
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return bad("invalid IPv6 host");
    std::string_view after = s.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("expected ':' after ']'");
      port = after.substr(1);
      if (port.empty()) return bad("empty port");
    }
  } else {
    size_t colon = s.find(':');
    host = s.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = s.substr(colon + 1);
      if (port.empty()) return bad("empty port");
    }
    if (host.empty()) return bad("empty host");
    for (char c : host)
      if (!hostChar(c)) return bad("invalid character in host (IPv6 addresses need [brackets])");
  }
  long portNum = https ? 8501 : 8500;
  if (!port.empty()) {
    if (port.size() > 5) return bad("invalid port");
    portNum = 0;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return bad("invalid port");
      portNum = portNum * 10 + (c - '0');
    }
    if (portNum < 1 || portNum > 65535) return bad("port out of range");
  }
  return std::string(https ? "https://" : "http://") + std::string(host) + ":" + std::to_string(portNum);
}

Result<ConsulConfig> parseStoreUrl(std::string_view url) {
  ConsulConfig cfg;
  std::string_view rest = url;
  while (true) {
    size_t comma = rest.find(',');
    auto addr = TRY(normalizeAddress(rest.substr(0, comma)));
    cfg.addresses.push_back(std::move(addr));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return cfg;
}

void applyEnvDefaults(ConsulConfig& cfg) {
  if (cfg.addresses.empty()) {
    if (const char* addr = envOrNull("CONSUL_HTTP_ADDR")) {
      bool https = false;
      if (const char* ssl = envOrNull("CONSUL_HTTP_SSL")) https = truthy(ssl);
      std::string_view a = trim(addr);
      if (a.starts_with("unix://")) {
        cfg.addresses.emplace_back(a);  // unsupported: reported by validate()
      } else if (auto n = normalizeAddress(a, https)) {
        cfg.addresses.push_back(*n);
      } else {
        cfg.addresses.emplace_back(a);  // keep as given so validate() names it
      }
    }
  }
  if (cfg.token.empty() && cfg.tokenFile.empty()) {
    if (const char* f = envOrNull("CONSUL_HTTP_TOKEN_FILE"))
      cfg.tokenFile = f;
    else if (const char* t = envOrNull("CONSUL_HTTP_TOKEN"))
      cfg.token = t;
  }
  if (cfg.caFile.empty())
    if (const char* v = envOrNull("CONSUL_CACERT")) cfg.caFile = v;
  if (cfg.certFile.empty())
    if (const char* v = envOrNull("CONSUL_CLIENT_CERT")) cfg.certFile = v;
  if (cfg.keyFile.empty())
    if (const char* v = envOrNull("CONSUL_CLIENT_KEY")) cfg.keyFile = v;
  if (!cfg.tlsSkipVerify)
    if (const char* v = envOrNull("CONSUL_HTTP_SSL_VERIFY")) cfg.tlsSkipVerify = falsy(v);
}

void spreadAddresses(ConsulConfig& cfg, std::string_view hostName) {
  if (cfg.addressOrder != ConsulConfig::AddressOrder::Spread || cfg.addresses.size() < 2) return;
  const auto first = static_cast<std::ptrdiff_t>(fnv1a(hostName) % cfg.addresses.size());
  std::rotate(cfg.addresses.begin(), cfg.addresses.begin() + first, cfg.addresses.end());
}

namespace {
// The host of "scheme://host:port" or "host:port", brackets removed; an IP literal in its canonical form.
std::string hostOf(std::string_view a) {
  if (size_t p = a.find("://"); p != std::string_view::npos) a.remove_prefix(p + 3);
  if (!a.empty() && a.front() == '[') {
    const size_t close = a.find(']');
    a = close == std::string_view::npos ? a.substr(1) : a.substr(1, close - 1);
  } else if (size_t colon = a.find(':'); colon != std::string_view::npos && a.find(':', colon + 1) == std::string_view::npos) {
    a = a.substr(0, colon);  // host:port (a bare IPv6 address has more than one colon)
  }
  if (auto ip = IpAddr::parse(a)) return ip->str();
  return std::string(a);
}
}  // namespace

bool putLeaderFirst(ConsulConfig& cfg, std::string_view leaderRpc) {
  if (leaderRpc.empty()) return false;
  const std::string leader = hostOf(leaderRpc);
  auto it = std::find_if(cfg.addresses.begin(), cfg.addresses.end(), [&](const std::string& a) { return hostOf(a) == leader; });
  if (it == cfg.addresses.end()) return false;
  std::rotate(cfg.addresses.begin(), it, it + 1);
  return true;
}

Result<void> validate(const ConsulConfig& cfg) {
  if (cfg.addresses.empty())
    return fail(Code::InvalidConfig,
                "no consul address configured (set the store URL, consul.addresses or CONSUL_HTTP_ADDR)");
  for (const auto& a : cfg.addresses) TRY_VOID(normalizeAddress(a));
  if (cfg.connectTimeoutMs <= 0 || cfg.connectTimeoutMs > 600000)
    return fail(Code::InvalidConfig, "consul connectTimeoutMs must be between 1 and 600000");
  if (cfg.requestTimeoutMs <= 0 || cfg.requestTimeoutMs > 600000)
    return fail(Code::InvalidConfig, "consul requestTimeoutMs must be between 1 and 600000");
  if (cfg.retries < 0 || cfg.retries > 10) return fail(Code::InvalidConfig, "consul retries must be between 0 and 10");
  if (!cfg.prefix.empty()) {
    if (cfg.prefix.back() == '/')
      return fail(Code::InvalidConfig, "consul prefix \"" + cfg.prefix + "\" must not end with '/'");
    TRY_VOID(validateKey(cfg.prefix, false));
  }
  return {};
}

Result<std::string> resolveToken(const ConsulConfig& cfg) {
  // A token goes into an HTTP header: refuse anything that could split or fold it.
  auto clean = [](std::string_view t) {
    for (unsigned char c : t)
      if (c < 0x21 || c == 0x7f) return false;
    return true;
  };
  if (cfg.tokenFile.empty()) {
    if (!clean(cfg.token)) return fail(Code::InvalidConfig, "consul token contains invalid characters");
    return cfg.token;
  }
  auto text = readSmallFile(cfg.tokenFile, 64u << 10);
  if (!text || !*text) return fail(Code::InvalidConfig, "cannot read consul token file " + cfg.tokenFile);
  std::string_view t = trim(firstLine(**text));
  if (t.empty()) return fail(Code::InvalidConfig, "consul token file " + cfg.tokenFile + " is empty");
  if (!clean(t)) return fail(Code::InvalidConfig, "consul token file " + cfg.tokenFile + " holds an invalid token");
  return std::string(t);
}

std::string prefixedKey(const ConsulConfig& cfg, std::string_view relative) {
  if (cfg.prefix.empty()) return std::string(relative);
  std::string k;
  k.reserve(cfg.prefix.size() + 1 + relative.size());
  return k.append(cfg.prefix).append("/").append(relative);
}

}  // namespace ovl::kv
