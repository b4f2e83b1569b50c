#include "ipam/file_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "ipam/fs.hpp"
#include "util/file.hpp"
#include "util/log.hpp"

namespace ovl::ipam {
namespace {

constexpr std::string_view kIndexHeader = "# overlay-ipam owner index v1";
// Optional, after the ifname: the attachment's CNI network (a pool can be shared by networks). Readers that
// predate it skip the line, as it is not an address.
constexpr std::string_view kNetworkLine = "network ";

constexpr std::string_view kCursorPrefix = "last_reserved_ip.";
constexpr std::string_view kLineBreak = "\r\n";  // host-local's separator
// Only root reads what we write (lease files name every container on the host). host-local creates its
// files world-readable; compatibility with it is about the layout, not the mode.
constexpr mode_t kFileMode = 0600;
constexpr mode_t kDirMode = 0700;  // directories we create; existing ones keep their mode

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

struct IndexFile {
  std::string containerId, ifName, network;
  std::vector<IpAddr> ips;
};

std::optional<IndexFile> parseIndex(std::string_view rest) {
  std::vector<std::string_view> lines;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    lines.push_back(rest.substr(0, nl));
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  if (lines.size() < 3 || lines[0] != kIndexHeader) return std::nullopt;
  IndexFile f{std::string(lines[1]), std::string(lines[2]), {}, {}};
  for (size_t i = 3; i < lines.size(); ++i) {
    if (lines[i].starts_with(kNetworkLine)) f.network = lines[i].substr(kNetworkLine.size());
    else if (auto ip = IpAddr::parse(trim(lines[i]))) f.ips.push_back(*ip);
  }
  return f;
}

std::string leaseContent(std::string_view containerId, std::string_view ifName) {
  return std::string(trim(containerId)) + std::string(kLineBreak) + std::string(ifName);
}

// A lease file's name is the address in Go's net.IP.String() form, as inet_ntop writes it.
std::optional<IpAddr> leaseName(std::string_view name) {
  auto ip = IpAddr::parse(name);
  if (!ip || ip->str() != name) return std::nullopt;
  return ip;
}

std::string mtimeRfc3339(const struct stat& st) {
  tm t{};
  gmtime_r(&st.st_mtim.tv_sec, &t);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &t);
  return buf;
}

}  // namespace

Result<std::unique_ptr<FileStore>> FileStore::open(const std::string& dataDir, const std::string& pool,
                                                   std::string host) {
  std::string dir = dataDir + "/" + pool;
  if (auto ok = fs::makeDirs(dir, kDirMode); !ok) return fail(std::move(ok.error()).context("field 'ipam.dataDir'"));
  return std::unique_ptr<FileStore>(new FileStore(std::move(dir), std::move(host)));
}

std::string FileStore::indexPath(std::string_view containerId, std::string_view ifName) const {
  std::string name = std::string(containerId) + "@" + std::string(ifName);
  if (name.size() > 200) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx",
                  static_cast<unsigned long long>(fnv1a(std::string(containerId) + "\n" + std::string(ifName))));
    name = std::string("h-") + hex;
  }
  return dir_ + "/.owners/" + name;
}

Result<void> FileStore::lock() {
  if (lock_) return {};
  std::string path = dir_ + "/lock";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, kFileMode));
  if (!fd) return fs::ioError(errno, "opening lock file " + path);
  while (::flock(fd.get(), LOCK_EX) != 0)
    if (errno != EINTR) return fs::ioError(errno, "locking " + path);
  lock_ = std::move(fd);
  return ensureIndex();
}

void FileStore::markClean() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  timespec times[2] = {{0, UTIME_OMIT}, {now.tv_sec - 1, kCleanNsec}};
  if (::utimensat(AT_FDCWD, dir_.c_str(), times, 0) != 0)
    log::warn("cannot mark the owner index of " + dir_ + " current, ignoring: " + std::strerror(errno));
}

Result<void> FileStore::ensureIndex() {
  struct stat st {};
  if (::stat(dir_.c_str(), &st) != 0) return fs::ioError(errno, "reading " + dir_);
  struct stat ist {};
  if (st.st_mtim.tv_nsec == kCleanNsec && ::stat((dir_ + "/.owners").c_str(), &ist) == 0) return {};
  TRY_VOID(rebuildIndex());
  markClean();
  return {};
}

Result<void> FileStore::rebuildIndex() {
  std::string idir = dir_ + "/.owners";
  TRY_VOID(fs::makeDirs(idir, kDirMode));
  // The lease files do not name the network: keep what the old index said.
  std::map<std::pair<std::string, std::string>, std::string> networks;
  for (const auto& n : TRY(fs::listDir(idir))) {
    if (auto data = readSmallFile(idir + "/" + n, 65536); data && *data) {
      auto idx = parseIndex(**data);
      if (idx && !idx->network.empty()) networks[{idx->containerId, idx->ifName}] = idx->network;
    }
    TRY_VOID(fs::removeFile(idir + "/" + n));
  }
  std::map<std::pair<std::string, std::string>, std::vector<IpAddr>> owners;
  auto names = TRY(leaseNames());
  for (const auto& n : names) {
    auto ip = leaseName(n);
    auto o = TRY(readLease(*ip));
    if (o) owners[{o->containerId, o->ifName}].push_back(*ip);
  }
  for (const auto& [key, ips] : owners) TRY_VOID(writeIndex(key.first, key.second, ips, networks[key]));
  log::info("built the owner index of " + dir_ + " from " + std::to_string(names.size()) + " lease files");
  return {};
}

Result<std::vector<std::string>> FileStore::leaseNames() {
  auto all = TRY(fs::listDir(dir_));
  std::erase_if(all, [](const std::string& n) { return !leaseName(n); });
  return all;
}

Result<std::optional<Owner>> FileStore::readLease(const IpAddr& ip) {
  std::string path = leasePath(ip);
  auto data = TRY(readSmallFile(path, 4096));
  if (!data) return std::optional<Owner>{};
  std::string_view s = trim(*data);
  Owner o;
  if (auto br = s.find(kLineBreak); br != std::string_view::npos) {
    o.containerId = s.substr(0, br);
    o.ifName = s.substr(br + kLineBreak.size());
  } else {
    o.containerId = s;  // written by host-local before 0.7: the container ID alone
  }
  o.host = host_;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) o.time = mtimeRfc3339(st);
  return std::optional<Owner>(std::move(o));
}

bool FileStore::leaseHeldBy(const IpAddr& ip, std::string_view containerId, std::string_view ifName) {
  auto data = readSmallFile(leasePath(ip), 4096);
  if (!data || !*data) return false;
  // An empty ifName stands for host-local's legacy files, which hold the container ID alone.
  return trim(**data) == (ifName.empty() ? std::string(trim(containerId)) : leaseContent(containerId, ifName));
}

Result<std::optional<std::vector<IpAddr>>> FileStore::readIndex(std::string_view containerId, std::string_view ifName,
                                                              std::string* network) {
  auto data = TRY(readSmallFile(indexPath(containerId, ifName), 65536));
  if (!data) return std::optional<std::vector<IpAddr>>{};
  auto idx = parseIndex(*data);
  // A different header or owner (a hashed name's collision): not this attachment's index.
  if (!idx || idx->containerId != containerId || idx->ifName != ifName) return std::optional<std::vector<IpAddr>>{};
  if (network) *network = idx->network;
  return std::optional<std::vector<IpAddr>>(std::move(idx->ips));
}

Result<void> FileStore::writeIndex(std::string_view containerId, std::string_view ifName,
                                   const std::vector<IpAddr>& ips, std::string_view network) {
  std::string body = std::string(kIndexHeader) + "\n" + std::string(containerId) + "\n" + std::string(ifName) + "\n";
  if (!network.empty()) body += std::string(kNetworkLine) + std::string(network) + "\n";
  for (const auto& ip : ips) body += ip.str() + "\n";
  return fs::writeFileAtomic(indexPath(containerId, ifName), body, kFileMode);
}

Result<std::vector<std::optional<IpAddr>>> FileStore::cursors(size_t n) {
  TRY_VOID(lock());
  std::vector<std::optional<IpAddr>> out(n);
  for (size_t i = 0; i < n; ++i) {
    auto data = TRY(readSmallFile(dir_ + "/" + std::string(kCursorPrefix) + std::to_string(i), 256));
    if (data) out[i] = IpAddr::parse(trim(*data));
  }
  return out;
}

Result<ReserveOutcome> FileStore::reserve(std::span<const Claim> claims, const Owner& owner) {
  TRY_VOID(lock());
  ReserveOutcome out;
  if (auto listed = TRY(readIndex(owner.containerId, owner.ifName))) {
    for (const auto& ip : *listed) {
      if (leaseHeldBy(ip, owner.containerId, owner.ifName)) {
        out.ownerHasLeases = true;
        return out;
      }
    }
    TRY_VOID(fs::removeFile(indexPath(owner.containerId, owner.ifName)));  // every lease in it is gone
  }
  std::string content = leaseContent(owner.containerId, owner.ifName);
  std::vector<IpAddr> created;
  auto undo = [&] {
    for (const auto& ip : created) ::unlink(leasePath(ip).c_str());
    markClean();
  };
  for (size_t i = 0; i < claims.size(); ++i) {
    std::string path = leasePath(claims[i].ip);
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, kFileMode));
    if (!fd && errno == EEXIST) {
      out.taken.push_back(i);
      continue;
    }
    if (!fd || ::write(fd.get(), content.data(), content.size()) != ssize_t(content.size())) {
      int err = errno;
      if (fd) ::unlink(path.c_str());
      undo();
      return fs::ioError(err, "creating lease " + path);
    }
    created.push_back(claims[i].ip);
  }
  if (!out.taken.empty()) {
    undo();
    return out;
  }
  if (auto ok = writeIndex(owner.containerId, owner.ifName, created, owner.network); !ok) {
    undo();
    return std::unexpected(std::move(ok.error()));
  }
  for (const auto& c : claims) {
    std::string cursor = dir_ + "/" + std::string(kCursorPrefix) + std::to_string(c.rangeSet);
    auto ok = fs::writeFile(cursor, c.ip.str(), kFileMode);
    if (!ok) log::warn(ok.error().msg + ", ignoring");  // only round-robin order suffers
  }
  markClean();
  out.reserved = true;
  return out;
}

Result<std::vector<IpAddr>> FileStore::findByOwner(std::string_view containerId, std::string_view ifName) {
  TRY_VOID(lock());
  auto listed = TRY(readIndex(containerId, ifName));
  std::vector<IpAddr> out;
  if (listed)
    for (const auto& ip : *listed)
      if (leaseHeldBy(ip, containerId, ifName)) out.push_back(ip);
  return out;
}

Result<std::optional<Owner>> FileStore::findLease(const IpAddr& ip) {
  TRY_VOID(lock());
  return readLease(ip);
}

Result<void> FileStore::releaseByOwner(std::string_view containerId, std::string_view ifName) {
  TRY_VOID(lock());
  auto listed = TRY(readIndex(containerId, ifName));
  std::string_view legacyIf = ifName;
  if (!listed) {
    // Files of host-local before 0.7 hold the container ID alone; host-local releases them by ID.
    listed = TRY(readIndex(containerId, ""));
    legacyIf = "";
    if (!listed) return {};
  }
  for (const auto& ip : *listed)
    if (leaseHeldBy(ip, containerId, legacyIf)) TRY_VOID(fs::removeFile(leasePath(ip)));
  TRY_VOID(fs::removeFile(indexPath(containerId, legacyIf)));
  markClean();
  return {};
}

Result<std::vector<Lease>> FileStore::listLeases() {
  TRY_VOID(lock());
  std::vector<Lease> out;
  for (const auto& n : TRY(leaseNames())) {
    auto ip = *leaseName(n);
    if (auto o = TRY(readLease(ip))) {
      (void)TRY(readIndex(o->containerId, o->ifName, &o->network));  // the network, when the index names it
      out.push_back(Lease{ip, std::move(*o), 0});
    }
  }
  return out;
}

Result<std::vector<IpAddr>> FileStore::listLeasedIps() {
  std::vector<IpAddr> out;
  for (const auto& n : TRY(leaseNames())) out.push_back(*leaseName(n));
  return out;
}

Result<void> FileStore::dropIndexEntries(const Owner& owner, const std::vector<IpAddr>& released) {
  std::string network;
  auto listed = TRY(readIndex(owner.containerId, owner.ifName, &network));
  if (!listed) return {};
  std::erase_if(*listed,
                [&](const IpAddr& ip) { return std::find(released.begin(), released.end(), ip) != released.end(); });
  if (listed->empty()) return fs::removeFile(indexPath(owner.containerId, owner.ifName));
  return writeIndex(owner.containerId, owner.ifName, *listed, network);
}

Result<void> FileStore::releaseLeases(std::span<const Lease> leases) {
  TRY_VOID(lock());
  std::map<std::pair<std::string, std::string>, std::vector<IpAddr>> released;
  for (const auto& l : leases) {
    if (!leaseHeldBy(l.ip, l.owner.containerId, l.owner.ifName)) continue;
    TRY_VOID(fs::removeFile(leasePath(l.ip)));
    released[{l.owner.containerId, l.owner.ifName}].push_back(l.ip);
  }
  for (const auto& [key, ips] : released) TRY_VOID(dropIndexEntries(Owner{key.first, key.second, {}, {}}, ips));
  markClean();
  return {};
}

Result<void> FileStore::ping() {
  if (::access(dir_.c_str(), R_OK | W_OK | X_OK) != 0) return fs::ioError(errno, "accessing " + dir_);
  return {};
}

}  // namespace ovl::ipam
