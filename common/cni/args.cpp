#include "cni/args.hpp"

#include <algorithm>
#include <cctype>

namespace ovl::cni {

std::optional<std::string> CniArgs::get(std::string_view k) const {
  auto it = values.find(k);
  if (it == values.end()) return std::nullopt;
  return it->second;
}

static bool truthy(std::string_view v) {
  std::string s(v);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s == "1" || s == "true";
}

Result<CniArgs> parseCniArgs(std::string_view text, std::span<const std::string_view> extraKeys) {
  CniArgs out;
  size_t pos = 0;
  while (pos <= text.size() && !text.empty()) {
    size_t end = text.find(';', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view pair = text.substr(pos, end - pos);
    pos = end + 1;
    if (pair.empty()) {
      if (end >= text.size()) break;
      continue;  // tolerate ";;" and a trailing ';'
    }
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return fail(Code::InvalidEnv, "CNI_ARGS entry '" + std::string(pair) + "' is not of the form KEY=VALUE");
    std::string key(pair.substr(0, eq));
    for (unsigned char c : key)
      if (!std::isprint(c) || c == ' ')
        return fail(Code::InvalidEnv, "CNI_ARGS key '" + key + "' contains an invalid character");
    if (out.values.count(key)) return fail(Code::InvalidEnv, "CNI_ARGS key '" + key + "' is given twice");
    out.values.emplace(std::move(key), std::string(pair.substr(eq + 1)));
    if (end >= text.size()) break;
  }
  bool ignore = false;
  if (auto v = out.get("IgnoreUnknown")) ignore = truthy(*v);
  if (!ignore) {
    for (const auto& [k, v] : out.values) {
      bool known = std::find(std::begin(kCommonArgKeys), std::end(kCommonArgKeys), k) != std::end(kCommonArgKeys) ||
                   std::find(extraKeys.begin(), extraKeys.end(), k) != extraKeys.end();
      if (!known)
        return fail(Code::InvalidEnv, "CNI_ARGS key '" + k + "' is unknown (set IgnoreUnknown=1 to ignore it)");
    }
  }
  return out;
}

}  // namespace ovl::cni
