#include "kv/consul_key.hpp"

namespace ovl::kv {
namespace {
constexpr size_t kMaxKeyLen = 512;

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}
}  // namespace

Result<void> validateKey(std::string_view key, bool allowTrailingSlash) {
  auto bad = [&](std::string_view why) {
    std::string shown(key.substr(0, 80));
    for (auto& c : shown)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return fail(Code::InvalidConfig, "invalid consul key \"" + shown + "\": " + std::string(why));
  };
  if (key.empty()) return bad("empty");
  if (key.size() > kMaxKeyLen) return bad("longer than 512 bytes");
  if (key.front() == '/') return bad("starts with '/'");
  for (unsigned char c : key)
    if (c < 0x20 || c == 0x7f) return bad("contains a control character");
  std::string_view rest = key;
  if (allowTrailingSlash && rest.back() == '/') rest.remove_suffix(1);
  while (true) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (seg.empty()) return bad("has an empty path segment");
    if (seg == "." || seg == "..") return bad("has a '.' or '..' path segment");
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return {};
}

std::string escapeKeyPath(std::string_view key) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(key.size() * 3);
  for (unsigned char c : key) {
    if (c == '/' || unreserved(c)) {
      out.push_back(char(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace ovl::kv
