#include "ns/sysctl.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "util/unique_fd.hpp"

namespace ovl::ns {

Result<std::string> sysctlPath(std::string_view key) {
  auto bad = [&](std::string_view why) {
    return fail(Code::InvalidConfig, "sysctl key '" + std::string(key) + "' " + std::string(why));
  };
  if (key.empty()) return bad("is empty");
  if (key.size() > 255) return bad("is too long");
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '/' || c == '-';
    if (!ok) return bad("contains an invalid character");
  }
  if (key.find("..") != std::string_view::npos) return bad("contains '..'");
  if (key.front() == '/' || key.front() == '.' || key.back() == '/' || key.back() == '.')
    return bad("must not start or end with '/' or '.'");
  std::string rel(key);
  if (rel.find('/') == std::string::npos)
    for (auto& c : rel)
      if (c == '.') c = '/';
  return "/proc/sys/" + rel;
}

Result<void> writeSysctl(std::string_view key, std::string_view value) {
  auto path = TRY(sysctlPath(key));
  auto what = [&] { return "writing sysctl " + std::string(key) + "=" + std::string(value); };
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return fail(sysError(errno, what()));
  ssize_t n = ::write(fd.get(), value.data(), value.size());
  if (n < 0) return fail(sysError(errno, what()));
  if (size_t(n) != value.size()) return fail(sysError(EIO, what() + " (short write)"));
  return {};
}

Result<std::string> readSysctl(std::string_view key) {
  auto path = TRY(sysctlPath(key));
  auto what = [&] { return "reading sysctl " + std::string(key); };
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail(sysError(errno, what()));
  std::string out;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(sysError(errno, what()));
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
    if (out.size() > 1 << 20) return fail(sysError(EFBIG, what()));
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace ovl::ns
