#include "ns/netns.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <cerrno>
#include <cstring>

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

namespace ovl::ns {
namespace {

constexpr const char* kSelfNetns = "/proc/thread-self/ns/net";

std::unexpected<Error> envError(std::string_view path, int err) {
  Error e = makeError(Code::InvalidEnv,
                      "CNI_NETNS '" + std::string(path) + "': " + std::strerror(err), std::strerror(err));
  e.sysErrno = err;
  return std::unexpected(std::move(e));
}

std::unexpected<Error> notNetns(std::string_view path) {
  return fail(Code::InvalidEnv, "CNI_NETNS '" + std::string(path) + "' is not a network namespace");
}

}  // namespace

Result<Netns> Netns::open(std::string_view path) {
  if (path.empty()) return fail(Code::InvalidEnv, "CNI_NETNS is empty");
  std::string p(path);
  UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return envError(path, errno);

  struct statfs sfs {};
  if (fstatfs(fd.get(), &sfs) < 0) return envError(path, errno);
  if (static_cast<unsigned long>(sfs.f_type) != NSFS_MAGIC) return notNetns(path);
#ifdef NS_GET_NSTYPE
  int type = ioctl(fd.get(), NS_GET_NSTYPE);
  if (type < 0 && errno != ENOTTY && errno != EINVAL) return envError(path, errno);
  if (type >= 0 && type != CLONE_NEWNET) return notNetns(path);
#endif
  struct stat st {};
  if (fstat(fd.get(), &st) < 0) return envError(path, errno);
  return Netns(std::move(fd), std::move(p), st.st_dev, st.st_ino);
}

Result<Netns> Netns::current() {
  auto ns = open(kSelfNetns);
  if (!ns) {
    Error e = std::move(ns.error());
    e.code = Code::Internal;
    e.msg = "opening the current network namespace: " + e.msg;
    return fail(std::move(e));
  }
  return ns;
}

Result<void> refuseCurrent(const Netns& ns) {
  auto self = TRY(Netns::current());
  if (self.sameAs(ns))
    return fail(Code::InvalidEnv, "CNI_NETNS '" + ns.path() + "' is the plugin's own network namespace");
  return {};
}

}  // namespace ovl::ns
