// The attachment listings `overlay watch` already receives, handed to overlay-resolver on the same host, so
// that a change on a network costs Consul one blocking-query answer per host instead of two (the watcher's
// and the resolver's), and the resolver parses a compact file instead of a Consul listing:
//   <stateDir>/ns-<netns inode>/listings/<net>.listing   one network's P/attachments/<net>/ as last answered
//   <stateDir>/ns-<netns inode>/listings/watcher.lock    held (flock, exclusive) while a watcher shares
// A listing file counts only while its watcher holds the lock: a watcher that stops removes its files, one
// that is killed leaves them, and the resolver then follows the store itself again. Files are 0600 in a
// 0700 directory, written by rename (a reader sees a whole listing or the one before).
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "kv/consul_types.hpp"
#include "util/error.hpp"
#include "util/unique_fd.hpp"

namespace ovl::model {

inline constexpr const char* kListingSuffix = ".listing";

// <stateDir>/ns-<inode of this thread's netns>/listings, created 0700.
Result<std::string> sharedListingsDir(const std::string& stateDir);

// A listing as a file: a header line, then each pair as "<modifyIndex> <key bytes> <value bytes>\n" followed
// by the key and the value (lengths first: values are JSON of any shape, nothing is escaped).
std::string encodeListing(const std::vector<kv::KvPair>& pairs);
Result<std::vector<kv::KvPair>> decodeListing(std::string_view text);

// The watcher's side. Not copyable; moving keeps the lock.
class ListingShare {
 public:
  // Takes the lock (a second watcher on this host gets an error and shares nothing) and removes the listing
  // files a watcher before it left.
  static Result<ListingShare> open(const std::string& stateDir);
  ListingShare(ListingShare&&) = default;
  ListingShare& operator=(ListingShare&&) = default;
  ~ListingShare();

  // Replaces the network's file. Idempotent.
  Result<void> publish(const std::string& net, const std::vector<kv::KvPair>& pairs);
  // Removes the files of networks not in `nets`. Idempotent.
  void keepOnly(const std::set<std::string>& nets);

 private:
  ListingShare(std::string dir, UniqueFd lock) : dir_(std::move(dir)), lock_(std::move(lock)) {}
  std::string dir_;
  UniqueFd lock_;
};

// The resolver's side: true while a watcher holds the lock of `dir`.
bool listingsShared(const std::string& dir);
// The network's shared listing with its file's identity (inode and change time: a new file per publish), or
// nullopt without a file.
struct SharedListing {
  std::vector<kv::KvPair> pairs;
  uint64_t inode = 0;
  int64_t changedNs = 0;
};
// What identifies the file as it is now, without reading it: (inode, change time), nullopt without a file.
std::optional<std::pair<uint64_t, int64_t>> sharedListingStamp(const std::string& dir, const std::string& net);
Result<std::optional<SharedListing>> readSharedListing(const std::string& dir, const std::string& net);

}  // namespace ovl::model
