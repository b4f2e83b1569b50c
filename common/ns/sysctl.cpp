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

namespace {

// fd as open() returned it, openErrno the errno right after.
Result<void> writeTo(UniqueFd fd, int openErrno, std::string_view value, const std::string& what) {
  if (!fd) return fail(sysError(openErrno, what));
  ssize_t n = ::write(fd.get(), value.data(), value.size());
  if (n < 0) return fail(sysError(errno, what));
  if (size_t(n) != value.size()) return fail(sysError(EIO, what + " (short write)"));
  return {};
}

Result<std::string> readFrom(UniqueFd fd, int openErrno, const std::string& what) {
  if (!fd) return fail(sysError(openErrno, what));
  std::string out;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(sysError(errno, what));
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
    if (out.size() > 1 << 20) return fail(sysError(EFBIG, what));
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

bool isFileName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

}  // namespace

Result<void> writeSysctl(std::string_view key, std::string_view value) {
  auto path = TRY(sysctlPath(key));
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  const int err = errno;
  return writeTo(std::move(fd), err, value, "writing sysctl " + std::string(key) + "=" + std::string(value));
}

Result<std::string> readSysctl(std::string_view key) {
  auto path = TRY(sysctlPath(key));
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  const int err = errno;
  return readFrom(std::move(fd), err, "reading sysctl " + std::string(key));
}

Result<SysctlDir> SysctlDir::open(std::string_view dirKey) {
  auto path = TRY(sysctlPath(dirKey));
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  const int err = errno;
  if (!fd) return fail(sysError(err, "opening sysctl directory " + std::string(dirKey)));
  return SysctlDir(std::move(fd), std::string(dirKey));
}

Result<void> SysctlDir::write(std::string_view name, std::string_view value) const {
  const std::string what = "writing sysctl " + key_ + "/" + std::string(name) + "=" + std::string(value);
  if (!isFileName(name)) return fail(Code::InvalidConfig, what + ": not a file name");
  const std::string file(name);
  UniqueFd fd(::openat(fd_.get(), file.c_str(), O_WRONLY | O_CLOEXEC));
  const int err = errno;
  return writeTo(std::move(fd), err, value, what);
}

Result<std::string> SysctlDir::read(std::string_view name) const {
  const std::string what = "reading sysctl " + key_ + "/" + std::string(name);
  if (!isFileName(name)) return fail(Code::InvalidConfig, what + ": not a file name");
  const std::string file(name);
  UniqueFd fd(::openat(fd_.get(), file.c_str(), O_RDONLY | O_CLOEXEC));
  const int err = errno;
  return readFrom(std::move(fd), err, what);
}

}  // namespace ovl::ns
