// Releases that could not reach the store (consul unreachable during DEL), kept on local disk so DEL
// succeeds and the node is not stuck, and replayed by the next call for the same pool.
//   <stateDir>/journal/ipam-<hash>.json   (0600; directory 0700)
//   {"kind":"ipam-release","store":"<consul prefix>","pool","containerID","ifname","time"}
// A replaying call first renames an entry to "<name>.claim<pid>" so that two calls never apply the
// same entry; a claim left by a crashed call is taken over after a minute.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace ovl::ipam {

struct PendingRelease {
  std::string store;  // which store it is for: the consul key prefix
  std::string pool;
  std::string containerId;
  std::string ifName;
  std::string time;
};

class Journal {
 public:
  explicit Journal(const std::string& stateDir) : dir_(stateDir + "/journal") {}

  Result<void> add(const PendingRelease& p);
  // Applies `release` to each entry of (store, pool), oldest first; an entry leaves the journal once
  // released. Stops at the first failure and returns it. Returns how many were applied.
  Result<size_t> replay(std::string_view store, std::string_view pool,
                        const std::function<Result<void>(const PendingRelease&)>& release);
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

}  // namespace ovl::ipam
