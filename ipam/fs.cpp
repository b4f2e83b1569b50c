#include "ipam/fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "util/unique_fd.hpp"

namespace ovl::ipam::fs {

std::unexpected<Error> ioError(int err, const std::string& what) {
  Error e = sysError(err, what);
  e.code = Code::Io;
  return fail(std::move(e));
}

Result<void> writeFile(const std::string& path, std::string_view data, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return ioError(errno, "writing " + path);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ioError(errno, "writing " + path);
    off += size_t(n);
  }
  if (::close(fd.release()) != 0) return ioError(errno, "writing " + path);
  return {};
}

Result<void> writeFileAtomic(const std::string& path, std::string_view data, mode_t mode) {
  std::string tmp = path + ".tmp" + std::to_string(::getpid());
  if (auto ok = writeFile(tmp, data, mode); !ok) {
    ::unlink(tmp.c_str());
    return ok;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ioError(err, "renaming " + tmp + " to " + path);
  }
  return {};
}

Result<void> makeDirs(const std::string& path, mode_t mode) {
  if (path.empty()) return {};
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return {};
    return fail(Code::Io, path + " exists and is not a directory");
  }
  if (auto slash = path.find_last_of('/'); slash != std::string::npos && slash > 0)
    TRY_VOID(makeDirs(path.substr(0, slash), mode));
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return ioError(errno, "creating directory " + path);
  return {};
}

Result<std::vector<std::string>> listDir(const std::string& path) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(path.c_str()), ::closedir);
  std::vector<std::string> out;
  if (!d) {
    if (errno == ENOENT) return out;
    return ioError(errno, "listing " + path);
  }
  errno = 0;
  while (dirent* e = ::readdir(d.get())) {
    std::string_view n(e->d_name);
    if (n != "." && n != "..") out.emplace_back(n);
    errno = 0;
  }
  if (errno != 0) return ioError(errno, "listing " + path);
  return out;
}

Result<void> removeFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ioError(errno, "removing " + path);
  return {};
}

}  // namespace ovl::ipam::fs
