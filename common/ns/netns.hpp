// Network namespace handles (CNI_NETNS) and a guard that runs the calling thread inside one.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "util/error.hpp"
#include "util/unique_fd.hpp"

namespace ovl::ns {

// An open network namespace file: /run/netns/NAME, /proc/PID/ns/net or /proc/PID/fd/N.
class Netns {
 public:
  // Opens and verifies the path is a network namespace. Errors are Code::InvalidEnv:
  // "CNI_NETNS '<path>': <strerror>" (sysErrno set) or "CNI_NETNS '<path>' is not a network namespace".
  static Result<Netns> open(std::string_view path);
  // The calling thread's current network namespace (/proc/thread-self/ns/net).
  static Result<Netns> current();

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  dev_t dev() const { return dev_; }
  ino_t ino() const { return ino_; }
  // Same namespace (same nsfs device and inode), whatever path it was opened by.
  bool sameAs(const Netns& o) const { return dev_ == o.dev_ && ino_ == o.ino_; }

 private:
  Netns(UniqueFd fd, std::string path, dev_t dev, ino_t ino)
      : fd_(std::move(fd)), path_(std::move(path)), dev_(dev), ino_(ino) {}
  UniqueFd fd_;
  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

// Fails with Code::InvalidEnv "CNI_NETNS '<path>' is the plugin's own network namespace" when ns is the
// calling thread's current network namespace.
Result<void> refuseCurrent(const Netns& ns);

// While alive, the calling thread runs in another network namespace; the destructor switches back and
// aborts the process if that fails (never keep running in the wrong namespace).
// Do not fork/exec, log to files or talk to remote services while one is alive.
class ScopedNetns {
 public:
  static Result<ScopedNetns> enter(const Netns& target);
  // Same, for a raw namespace fd that stays owned by the caller; what names it in errors.
  static Result<ScopedNetns> enterFd(int netnsFd, std::string_view what);

  ScopedNetns(ScopedNetns&& o) noexcept = default;
  ScopedNetns& operator=(ScopedNetns&&) = delete;
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;
  ~ScopedNetns();

 private:
  explicit ScopedNetns(UniqueFd original) : original_(std::move(original)) {}
  UniqueFd original_;  // the namespace to return to; empty once moved from
};

}  // namespace ovl::ns
