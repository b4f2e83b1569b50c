// libFuzzer target: Consul answer parsers, base64 and the store URL / "consul" object parsers must never
// crash, hang or leak on any input. The first byte picks the parser; the rest is the body.
#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kv/base64.hpp"
#include "kv/consul_config.hpp"
#include "kv/consul_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 9) {
    case 0: (void)ovl::kv::parseKvList(body); break;
    case 1: (void)ovl::kv::parseTxnResponse(body, 200); break;
    case 2: (void)ovl::kv::parseTxnResponse(body, 409); break;
    case 3: (void)ovl::kv::parseKeyList(body); break;
    case 4: (void)ovl::kv::parseLeader(body); break;
    case 5:
      if (auto d = ovl::kv::base64Decode(body)) {
        // Whatever decodes must re-encode to the same text (canonical form only).
        if (ovl::kv::base64Encode(*d) != body) __builtin_trap();
      }
      break;
    case 6:
      if (auto c = ovl::kv::parseStoreUrl(body)) {
        if (c->addresses.empty()) __builtin_trap();
        for (const auto& a : c->addresses) {
          // Normalized addresses are a fixed point.
          auto n = ovl::kv::normalizeAddress(a);
          if (!n || *n != a) __builtin_trap();
        }
      }
      break;
    case 7: (void)ovl::kv::normalizeAddress(body, data[0] & 0x80); break;
    case 8: {
      rapidjson::Document d;
      d.Parse(body.data(), body.size());
      if (!d.HasParseError() && d.IsObject()) {
        ovl::kv::ConsulConfig cfg;
        if (ovl::kv::parseConsulObject(d, cfg, "consul")) (void)ovl::kv::validate(cfg);
      }
      break;
    }
  }
  return 0;
}
