// parseConsulObject: the "consul" object of a plugin configuration.
#include "kv/consul_config.hpp"
#include "kv/consul_key.hpp"

namespace ovl::kv {
namespace {

struct Field {
  std::string_view prefix;
  std::string name(std::string_view key) const {
    return prefix.empty() ? std::string(key) : std::string(prefix) + "." + std::string(key);
  }
  std::unexpected<Error> wrong(std::string_view key, std::string_view what) const {
    return fail(Code::InvalidConfig, name(key) + " must be " + std::string(what));
  }
};

Result<void> readString(const rapidjson::Value& v, const Field& f, std::string_view key, std::string& out) {
  if (!v.IsString()) return f.wrong(key, "a string");
  out.assign(v.GetString(), v.GetStringLength());
  return {};
}

Result<void> readLong(const rapidjson::Value& v, const Field& f, std::string_view key, long lo, long hi, long& out) {
  std::string range = "an integer between " + std::to_string(lo) + " and " + std::to_string(hi);
  if (!v.IsInt64()) return f.wrong(key, range);
  int64_t n = v.GetInt64();
  if (n < lo || n > hi) return f.wrong(key, range);
  out = static_cast<long>(n);
  return {};
}

Result<void> readAddresses(const rapidjson::Value& v, const Field& f, ConsulConfig& cfg) {
  std::vector<std::string> out;
  if (v.IsString()) {
    auto parsed = parseStoreUrl(std::string_view(v.GetString(), v.GetStringLength()));
    if (!parsed) return fail(std::move(parsed.error()).context(f.name("addresses")));
    out = std::move(parsed->addresses);
  } else if (v.IsArray()) {
    if (v.Empty()) return f.wrong("addresses", "a non-empty array of strings");
    for (const auto& a : v.GetArray()) {
      if (!a.IsString()) return f.wrong("addresses", "an array of strings");
      auto n = normalizeAddress(std::string_view(a.GetString(), a.GetStringLength()));
      if (!n) return fail(std::move(n.error()).context(f.name("addresses")));
      out.push_back(std::move(*n));
    }
  } else {
    return f.wrong("addresses", "an array of strings");
  }
  cfg.addresses = std::move(out);
  return {};
}

}  // namespace

Result<void> parseConsulObject(const rapidjson::Value& obj, ConsulConfig& cfg, std::string_view fieldPrefix) {
  Field f{fieldPrefix};
  if (!obj.IsObject())
    return fail(Code::InvalidConfig,
                (fieldPrefix.empty() ? std::string("consul") : std::string(fieldPrefix)) + " must be an object");
  for (const auto& m : obj.GetObject()) {
    std::string_view key(m.name.GetString(), m.name.GetStringLength());
    const auto& v = m.value;
    if (key == "addresses")
      TRY_VOID(readAddresses(v, f, cfg));
    else if (key == "token")
      TRY_VOID(readString(v, f, key, cfg.token));
    else if (key == "tokenFile")
      TRY_VOID(readString(v, f, key, cfg.tokenFile));
    else if (key == "caFile")
      TRY_VOID(readString(v, f, key, cfg.caFile));
    else if (key == "certFile")
      TRY_VOID(readString(v, f, key, cfg.certFile));
    else if (key == "keyFile")
      TRY_VOID(readString(v, f, key, cfg.keyFile));
    else if (key == "prefix")
      TRY_VOID(readString(v, f, key, cfg.prefix));
    else if (key == "tlsSkipVerify") {
      if (!v.IsBool()) return f.wrong(key, "a boolean");
      cfg.tlsSkipVerify = v.GetBool();
    } else if (key == "watchReads") {
      std::string s;
      TRY_VOID(readString(v, f, key, s));
      if (s == "auto") cfg.watchReads = ConsulConfig::WatchReads::Auto;
      else if (s == "leader") cfg.watchReads = ConsulConfig::WatchReads::Leader;
      else if (s == "any") cfg.watchReads = ConsulConfig::WatchReads::AnyServer;
      else return fail(Code::InvalidConfig, f.name(key) + " is '" + s + "', not one of auto, leader, any");
    } else if (key == "addressOrder") {
      std::string s;
      TRY_VOID(readString(v, f, key, s));
      if (s == "spread") cfg.addressOrder = ConsulConfig::AddressOrder::Spread;
      else if (s == "listed") cfg.addressOrder = ConsulConfig::AddressOrder::Listed;
      else return fail(Code::InvalidConfig, f.name(key) + " is '" + s + "', not one of spread, listed");
    } else if (key == "connectTimeoutMs")
      TRY_VOID(readLong(v, f, key, 1, 600000, cfg.connectTimeoutMs));
    else if (key == "requestTimeoutMs")
      TRY_VOID(readLong(v, f, key, 1, 600000, cfg.requestTimeoutMs));
    else if (key == "retries") {
      long n = 0;
      TRY_VOID(readLong(v, f, key, 0, 10, n));
      cfg.retries = static_cast<int>(n);
    } else {
      return fail(Code::InvalidConfig,
                  f.name(key) +
                      " is not a known key (known: addresses, token, tokenFile, caFile, certFile, keyFile, "
                      "tlsSkipVerify, prefix, connectTimeoutMs, requestTimeoutMs, retries, watchReads, addressOrder)");
    }
  }
  if (!cfg.prefix.empty()) {
    if (cfg.prefix.back() == '/') return f.wrong("prefix", "a key prefix without a trailing '/'");
    if (auto ok = validateKey(cfg.prefix, false); !ok) return fail(std::move(ok.error()).context(f.name("prefix")));
  }
  return {};
}

}  // namespace ovl::kv
