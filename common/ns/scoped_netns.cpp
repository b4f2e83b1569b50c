#include <fcntl.h>
#include <sched.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "ns/netns.hpp"
#include "util/log.hpp"

namespace ovl::ns {

Result<ScopedNetns> ScopedNetns::enter(const Netns& target) { return enterFd(target.fd(), target.path()); }

Result<ScopedNetns> ScopedNetns::enterFd(int netnsFd, std::string_view what) {
  UniqueFd original(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!original) return fail(sysError(errno, "opening the current network namespace"));
  if (setns(netnsFd, CLONE_NEWNET) < 0) {
    Error e = sysError(errno, "entering network namespace '" + std::string(what) + "'");
    if (e.sysErrno == EINVAL || e.sysErrno == EBADF) e.code = Code::InvalidEnv;
    return fail(std::move(e));
  }
  return ScopedNetns(std::move(original));
}

ScopedNetns::~ScopedNetns() {
  if (!original_) return;
  if (setns(original_.get(), CLONE_NEWNET) < 0) {
    int err = errno;
    log::error(std::string("cannot return to the original network namespace: ") + std::strerror(err) +
               "; aborting");
    std::abort();
  }
}

}  // namespace ovl::ns
