#include "model/shared_listings.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "model/memory.hpp"
#include "util/file.hpp"
#include "util/log.hpp"

namespace ovl::model {
namespace {

constexpr std::string_view kHeader = "ovl-listing 1\n";
constexpr size_t kMaxListingBytes = 64u << 20;  // 100,000 attachments of ~350 B with room to spare
constexpr const char* kLockName = "watcher.lock";

std::string fileOf(const std::string& dir, const std::string& net) { return dir + "/" + net + kListingSuffix; }

bool readNumber(std::string_view& in, uint64_t& out, char end) {
  auto [p, ec] = std::from_chars(in.data(), in.data() + in.size(), out);
  if (ec != std::errc() || p == in.data() + in.size() || *p != end) return false;
  in.remove_prefix(size_t(p - in.data()) + 1);
  return true;
}

}  // namespace

Result<std::string> sharedListingsDir(const std::string& stateDir) {
  std::string dir = TRY(hostStateDir(stateDir)) + "/listings";
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return fail(sysError(errno, "creating " + dir));
  return dir;
}

std::string encodeListing(const std::vector<kv::KvPair>& pairs) {
  size_t size = kHeader.size();
  for (const auto& p : pairs) size += 64 + p.key.size() + p.value.size();
  std::string out;
  out.reserve(size);
  out += kHeader;
  for (const auto& p : pairs) {
    out += std::to_string(p.modifyIndex);
    out += ' ';
    out += std::to_string(p.key.size());
    out += ' ';
    out += std::to_string(p.value.size());
    out += '\n';
    out += p.key;
    out += p.value;
  }
  return out;
}

Result<std::vector<kv::KvPair>> decodeListing(std::string_view text) {
  if (text.substr(0, kHeader.size()) != kHeader) return fail(Code::Decode, "not a shared listing (no header)");
  text.remove_prefix(kHeader.size());
  std::vector<kv::KvPair> out;
  while (!text.empty()) {
    uint64_t index = 0, keyLen = 0, valueLen = 0;
    if (!readNumber(text, index, ' ') || !readNumber(text, keyLen, ' ') || !readNumber(text, valueLen, '\n') ||
        keyLen == 0 || keyLen > text.size() || valueLen > text.size() - keyLen)
      return fail(Code::Decode, "shared listing: record " + std::to_string(out.size() + 1) + " is cut or malformed");
    kv::KvPair p;
    p.modifyIndex = index;
    p.key.assign(text.substr(0, keyLen));
    p.value.assign(text.substr(keyLen, valueLen));
    text.remove_prefix(keyLen + valueLen);
    out.push_back(std::move(p));
  }
  return out;
}

Result<ListingShare> ListingShare::open(const std::string& stateDir) {
  std::string dir = TRY(sharedListingsDir(stateDir));
  const std::string path = dir + "/" + kLockName;
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return fail(sysError(errno, "opening " + path));
  // A resolver holds the lock shared for an instant to look; only another watcher holds it for long.
  int tries = 0;
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK || ++tries > 100) return fail(sysError(errno, "locking " + path + " (another watcher?)"));
    ::usleep(10000);
  }
  ListingShare share(std::move(dir), std::move(fd));
  share.keepOnly({});
  return share;
}

ListingShare::~ListingShare() {
  if (lock_) keepOnly({});  // a moved-from share has no lock and removes nothing
}

Result<void> ListingShare::publish(const std::string& net, const std::vector<kv::KvPair>& pairs) {
  const std::string path = fileOf(dir_, net);
  if (auto r = writeFileAtomically(path, encodeListing(pairs)); !r) {
    ::unlink(path.c_str());  // not an older listing instead: without a file the resolver asks the store
    return r;
  }
  return {};
}

void ListingShare::keepOnly(const std::set<std::string>& nets) {
  DIR* d = ::opendir(dir_.c_str());
  if (!d) return;
  const std::string_view suffix = kListingSuffix;
  std::vector<std::string> gone;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name.size() <= suffix.size() || name.substr(name.size() - suffix.size()) != suffix) continue;
    if (!nets.count(std::string(name.substr(0, name.size() - suffix.size())))) gone.emplace_back(name);
  }
  ::closedir(d);
  for (const auto& name : gone) {
    if (::unlink((dir_ + "/" + name).c_str()) != 0 && errno != ENOENT)
      log::warn("removing shared listing " + dir_ + "/" + name + ": " + std::strerror(errno));
  }
}

bool listingsShared(const std::string& dir) {
  UniqueFd fd(::open((dir + "/" + kLockName).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  if (::flock(fd.get(), LOCK_SH | LOCK_NB) == 0) return false;  // nobody holds it: closing releases ours
  return errno == EWOULDBLOCK;
}

std::optional<std::pair<uint64_t, int64_t>> sharedListingStamp(const std::string& dir, const std::string& net) {
  struct stat st{};
  if (::stat(fileOf(dir, net).c_str(), &st) != 0) return std::nullopt;
  return std::pair<uint64_t, int64_t>{uint64_t(st.st_ino), int64_t(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec};
}

Result<std::optional<SharedListing>> readSharedListing(const std::string& dir, const std::string& net) {
  // The stamp before the contents: a file replaced in between is read again next time, never missed.
  auto stamp = sharedListingStamp(dir, net);
  if (!stamp) return std::nullopt;
  const std::string path = fileOf(dir, net);
  auto text = TRY(readSmallFile(path, kMaxListingBytes));
  if (!text) return std::nullopt;
  auto pairs = decodeListing(*text);
  if (!pairs) return fail(std::move(pairs.error()).context(path));
  return SharedListing{std::move(*pairs), stamp->first, stamp->second};
}

}  // namespace ovl::model
