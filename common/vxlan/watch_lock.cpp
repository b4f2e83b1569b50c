#include "vxlan/watch_lock.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "model/memory.hpp"
#include "nfnl/batch.hpp"
#include "util/log.hpp"
#include "vxlan/arp_reports.hpp"

namespace ovl::vxlan {
namespace {

Result<std::string> lockPath(const std::string& stateDir) {
  return TRY(model::hostStateDir(stateDir)) + "/watch.lock";
}

flock wholeFile(short type) {
  flock l{};
  l.l_type = type;
  l.l_whence = SEEK_SET;  // l_start 0, l_len 0: the whole file
  return l;
}

// Takes the lock without waiting: false when someone holds it.
Result<bool> tryLock(int fd, const std::string& path) {
  flock l = wholeFile(F_WRLCK);
  if (::fcntl(fd, F_OFD_SETLK, &l) == 0) return true;
  if (errno == EAGAIN || errno == EACCES) return false;
  return fail(sysError(errno, "locking " + path));
}

}  // namespace

Result<WatchLock> WatchLock::acquire(const std::string& stateDir) {
  const std::string path = TRY(lockPath(stateDir));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (;;) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd) return fail(sysError(errno, "opening " + path));
    if (TRY(tryLock(fd.get(), path))) {
      // Whoever held it before may have removed the file meanwhile (a clean exit, or an ADD clearing a dead
      // watcher's reports): a lock on a file no longer under that name tells nobody. Again, on the new one.
      struct stat held {}, named {};
      if (::fstat(fd.get(), &held) == 0 && ::stat(path.c_str(), &named) == 0 && held.st_dev == named.st_dev &&
          held.st_ino == named.st_ino)
        return WatchLock(std::move(fd), path);
      continue;
    }
    if (std::chrono::steady_clock::now() > deadline)
      return fail(Code::TryAgainLater, "another overlay watch of this host holds " + path);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void WatchLock::release() {
  if (!fd_) return;
  ::unlink(path_.c_str());
  fd_.reset();
}

Result<bool> watcherRuns(const std::string& stateDir) {
  const std::string path = TRY(lockPath(stateDir));
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return false;
    return fail(sysError(errno, "opening " + path));
  }
  flock l = wholeFile(F_WRLCK);  // would a write lock conflict? Asks, takes nothing
  if (::fcntl(fd.get(), F_OFD_GETLK, &l) != 0) return fail(sysError(errno, "testing " + path));
  return l.l_type != F_UNLCK;
}

Result<void> dropOrphanedArpReports(const std::string& stateDir) {
  const std::string path = TRY(lockPath(stateDir));
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return {};
    return fail(sysError(errno, "opening " + path));
  }
  if (!TRY(tryLock(fd.get(), path))) return {};  // a watcher runs
  struct stat held {}, named {};
  if (::fstat(fd.get(), &held) != 0 || ::stat(path.c_str(), &named) != 0 || held.st_dev != named.st_dev ||
      held.st_ino != named.st_ino)
    return {};  // the file changed hands meanwhile: a watcher stopped cleanly, or one started
  nfnl::Batch b;
  addArpReportsRemoved(b);
  if (auto r = b.commit("removing the ARP reports of an overlay watch that is gone"); !r) {
    if (r.error().sysErrno != ENOENT) return fail(std::move(r.error()));
  } else {
    log::info("removed the ARP reports of an overlay watch that is gone: requests no entry answers flood again");
  }
  ::unlink(path.c_str());
  return {};
}

}  // namespace ovl::vxlan
