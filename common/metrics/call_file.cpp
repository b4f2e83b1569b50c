#include "metrics/call_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "util/unique_fd.hpp"

namespace ovl::metrics {
namespace {

constexpr char kMagic[8] = {'O', 'V', 'L', 'M', 'E', 'T', '1', '\n'};

struct Header {
  char magic[8];
  uint32_t slots;
  uint32_t buckets;
  uint64_t dropped;
};

constexpr size_t kFileSize = sizeof(Header) + kSlots * sizeof(Slot);

std::string_view fixed(const char (&s)[16]) { return {s, ::strnlen(s, sizeof s)}; }

void setFixed(char (&dst)[16], std::string_view v) {
  std::memset(dst, 0, sizeof dst);
  std::memcpy(dst, v.data(), std::min(v.size(), sizeof dst));
}

bool matches(const Slot& slot, const Sample& s) {
  return slot.kind == s.kind && slot.code == s.code && slot.pluginName() == s.plugin.substr(0, 16) &&
         slot.seriesName() == s.name.substr(0, 16);
}

bool fullRead(int fd, void* buf, size_t n) {
  return ::pread(fd, buf, n, 0) == ssize_t(n);
}

// A file of the wrong size or magic (an older layout, a torn creation) is started afresh.
bool valid(const Header& h) {
  return std::memcmp(h.magic, kMagic, sizeof kMagic) == 0 && h.slots == kSlots && h.buckets == kBuckets;
}

struct Image {
  Header header{};
  std::vector<Slot> slots = std::vector<Slot>(kSlots);
};

bool load(int fd, Image& img) {
  std::vector<char> buf(kFileSize);
  if (!fullRead(fd, buf.data(), buf.size())) return false;
  std::memcpy(&img.header, buf.data(), sizeof(Header));
  if (!valid(img.header)) return false;
  std::memcpy(img.slots.data(), buf.data() + sizeof(Header), kSlots * sizeof(Slot));
  return true;
}

}  // namespace

std::string_view Slot::pluginName() const { return fixed(plugin); }
std::string_view Slot::seriesName() const { return fixed(name); }

size_t bucketOf(uint64_t ns) {
  const double s = double(ns) / 1e9;
  for (size_t i = 0; i < kBounds.size(); ++i)
    if (s <= kBounds[i]) return i;
  return kBounds.size();
}

bool add(std::vector<Slot>& slots, const Sample& s) {
  auto it = std::find_if(slots.begin(), slots.end(), [&](const Slot& x) { return matches(x, s); });
  if (it == slots.end())
    it = std::find_if(slots.begin(), slots.end(), [](const Slot& x) { return x.kind == Kind::Empty; });
  if (it == slots.end()) return false;
  if (it->kind == Kind::Empty) {
    it->kind = s.kind;
    it->code = s.code;
    setFixed(it->plugin, s.plugin);
    setFixed(it->name, s.name);
  }
  it->count += s.count;
  if (s.kind != Kind::Counter) {
    it->sumNs += s.ns;
    it->buckets[bucketOf(s.ns)] += 1;
  }
  return true;
}

Result<void> addToFile(const std::string& path, const std::vector<Sample>& samples) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return fail(sysError(errno, "opening " + path));
  if (::flock(fd.get(), LOCK_EX) != 0) return fail(sysError(errno, "locking " + path));
  Image img;
  if (!load(fd.get(), img)) {
    img = Image{};
    std::memcpy(img.header.magic, kMagic, sizeof kMagic);
    img.header.slots = kSlots;
    img.header.buckets = kBuckets;
  }
  for (const auto& s : samples)
    if (!add(img.slots, s)) ++img.header.dropped;
  std::vector<char> buf(kFileSize);
  std::memcpy(buf.data(), &img.header, sizeof(Header));
  std::memcpy(buf.data() + sizeof(Header), img.slots.data(), kSlots * sizeof(Slot));
  if (::pwrite(fd.get(), buf.data(), buf.size(), 0) != ssize_t(buf.size()))
    return fail(sysError(errno, "writing " + path));
  return {};
}

Result<Contents> readFile(const std::string& path) {
  Contents c;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return c;
    return fail(sysError(errno, "opening " + path));
  }
  if (::flock(fd.get(), LOCK_SH) != 0) return fail(sysError(errno, "locking " + path));
  Image img;
  if (!load(fd.get(), img)) return c;
  c.dropped = img.header.dropped;
  for (auto& s : img.slots)
    if (s.kind != Kind::Empty) c.slots.push_back(s);
  return c;
}

}  // namespace ovl::metrics
