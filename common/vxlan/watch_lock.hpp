// Whether `overlay watch` runs on this host. The watcher holds a write lock (an open file description lock)
// on <host state dir>/watch.lock for its life; the kernel drops it when the process exits, however it exits.
// A watcher that stops cleanly removes its ARP reports (vxlan/arp_reports.hpp) and the file; one that died
// leaves both, and the next ADD here removes them: without a watcher a request no entry answers must flood.
#pragma once

#include <string>

#include "util/error.hpp"
#include "util/unique_fd.hpp"

namespace ovl::vxlan {

class WatchLock {
 public:
  // Takes the lock, waiting up to 2 s for an ADD that holds it a moment; Code::TryAgainLater naming the file
  // when another watcher of this host holds it.
  static Result<WatchLock> acquire(const std::string& stateDir);
  WatchLock() = default;  // holds nothing
  bool held() const { return fd_.valid(); }
  // Removes the file and lets the lock go (a clean exit, after the ARP reports were removed).
  void release();

 private:
  WatchLock(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  UniqueFd fd_;
  std::string path_;
};

// A watcher of this host holds its lock now. False when the file is missing (none runs, or one stopped).
Result<bool> watcherRuns(const std::string& stateDir);

// When the watcher that added the ARP reports died without removing them (its file is there and nobody
// holds the lock): removes them and the file, holding the lock meanwhile. Idempotent; a stat when no file.
Result<void> dropOrphanedArpReports(const std::string& stateDir);

}  // namespace ovl::vxlan
