// Leases in files, in host-local's layout, so a node can switch between host-local and overlay-ipam
// without losing leases:
//   <dataDir>/<pool>/<ip>                   "<containerID>\r\n<ifname>", created with O_EXCL
//   <dataDir>/<pool>/last_reserved_ip.<N>   the cursor of range set N
//   <dataDir>/<pool>/lock                   flock()ed by every call (host-local takes the same lock)
// host-local finds an attachment's leases by reading every lease file (its cost grows with the pool).
// We keep an owner index next to the leases instead:
//   <dataDir>/<pool>/.owners/<containerID>@<ifname>   header, container ID, ifname, "network <name>", one IP a line
// built once from the lease files when missing or stale. Staleness: after each change we set the pool
// directory's mtime to a marker value (nanoseconds == kCleanNsec, one second in the past); a lease
// created or removed by anyone else (host-local, or a crash of ours midway) moves the mtime to now,
// and the next call rebuilds the index under the lock.
// Host and time of a lease are this host and the lease file's mtime.
// Files we create are 0600 and directories 0700 (host-local uses 0644/0755).
#pragma once

#include <memory>
#include <string>

#include "ipam/lease_store.hpp"
#include "util/unique_fd.hpp"

namespace ovl::ipam {

class FileStore : public LeaseStore {
 public:
  static constexpr long kCleanNsec = 424000000;

  // Creates <dataDir>/<pool> when missing.
  static Result<std::unique_ptr<FileStore>> open(const std::string& dataDir, const std::string& pool, std::string host);

  Result<void> lock() override;
  bool shared() const override { return false; }
  Result<std::vector<std::optional<IpAddr>>> cursors(size_t n) override;
  Result<ReserveOutcome> reserve(std::span<const Claim> claims, const Owner& owner) override;
  Result<std::vector<IpAddr>> findByOwner(std::string_view containerId, std::string_view ifName) override;
  Result<std::optional<Owner>> findLease(const IpAddr& ip) override;
  Result<void> releaseByOwner(std::string_view containerId, std::string_view ifName) override;
  Result<std::vector<Lease>> listLeases() override;
  Result<std::vector<IpAddr>> listLeasedIps() override;
  Result<void> releaseLeases(std::span<const Lease> leases) override;
  Result<void> ping() override;
  std::string describe() const override { return "file store " + dir_; }

  const std::string& dir() const { return dir_; }

 private:
  FileStore(std::string dir, std::string host) : dir_(std::move(dir)), host_(std::move(host)) {}

  std::string leasePath(const IpAddr& ip) const { return dir_ + "/" + ip.str(); }
  std::string indexPath(std::string_view containerId, std::string_view ifName) const;
  Result<void> ensureIndex();
  Result<void> rebuildIndex();
  void markClean();
  Result<std::optional<Owner>> readLease(const IpAddr& ip);
  bool leaseHeldBy(const IpAddr& ip, std::string_view containerId, std::string_view ifName);
  // `network`, when given, receives the network the index names ("" when none).
  Result<std::optional<std::vector<IpAddr>>> readIndex(std::string_view containerId, std::string_view ifName,
                                                       std::string* network = nullptr);
  Result<void> writeIndex(std::string_view containerId, std::string_view ifName, const std::vector<IpAddr>& ips,
                          std::string_view network);
  Result<void> dropIndexEntries(const Owner& owner, const std::vector<IpAddr>& released);
  Result<std::vector<std::string>> leaseNames();

  std::string dir_;
  std::string host_;
  UniqueFd lock_;
};

}  // namespace ovl::ipam
