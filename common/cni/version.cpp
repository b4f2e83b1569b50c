#include "cni/version.hpp"

#include <string>

namespace ovl::cni {

static int part(std::string_view& s) {
  int v = 0;
  size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9' && v < 100000) v = v * 10 + (s[i++] - '0');
  s.remove_prefix(i);
  if (!s.empty() && s.front() == '.') s.remove_prefix(1);
  return v;
}

int compareVersions(std::string_view a, std::string_view b) {
  for (int i = 0; i < 3; ++i) {
    int x = part(a), y = part(b);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

bool isSupported(std::string_view v) {
  for (auto s : kSupportedVersions)
    if (s == v) return true;
  return false;
}

Result<void> requireSupported(std::string_view v, std::string_view field) {
  if (isSupported(v)) return {};
  std::string list;
  for (auto s : kSupportedVersions) list += (list.empty() ? "" : ", ") + std::string(s);
  return fail(Code::IncompatibleVersion,
              std::string(field) + " '" + std::string(v) + "' is not supported (supported: " + list + ")");
}

}  // namespace ovl::cni
