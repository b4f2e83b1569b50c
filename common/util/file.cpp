#include "util/file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "util/unique_fd.hpp"

namespace ovl {
namespace {

Error ioError(int err, const std::string& what) {
  Error e = sysError(err, what);
  e.code = Code::Io;
  return e;
}

}  // namespace

Result<std::optional<std::string>> readSmallFile(const std::string& path, size_t maxBytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return std::nullopt;
    return fail(ioError(errno, "reading " + path));
  }
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(ioError(errno, "reading " + path));
    if (n == 0) return out;
    if (out.size() + size_t(n) > maxBytes)
      return fail(Code::Io, path + " is larger than " + std::to_string(maxBytes) + " bytes");
    out.append(buf, size_t(n));
  }
}

Result<void> writeFileAtomically(const std::string& path, std::string_view text) {
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail(ioError(errno, "writing " + tmp));
  bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size());
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail(ioError(err, "writing " + path));
  }
  return {};
}

std::string_view firstLine(std::string_view text) {
  const size_t end = text.find('\n');
  text = text.substr(0, end);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> fieldsOf(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

}  // namespace ovl
