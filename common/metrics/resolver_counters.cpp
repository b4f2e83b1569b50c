#include "metrics/resolver_counters.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "model/memory.hpp"
#include "util/unique_fd.hpp"

namespace ovl::metrics {

struct ResolverCounters::Block {
  char magic[8];
  uint64_t queries[2];
  uint64_t malformed;
  uint64_t forwarded;
  uint64_t answers[16];
  uint64_t held, heldFound;
};

namespace {

using Block = ResolverCounters::Block;
constexpr char kMagic[8] = {'O', 'V', 'L', 'R', 'E', 'S', '2', '\n'};

// One writer: a relaxed load and store (no locked instruction); readers never see a torn value.
void bump(uint64_t& v) {
  std::atomic_ref<uint64_t> a(v);
  a.store(a.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

uint64_t load(const uint64_t& v) { return __atomic_load_n(&v, __ATOMIC_RELAXED); }

ResolverCounts readBlock(const Block& b) {
  ResolverCounts c;
  for (size_t i = 0; i < c.queries.size(); ++i) c.queries[i] = load(b.queries[i]);
  c.malformed = load(b.malformed);
  c.forwarded = load(b.forwarded);
  for (size_t i = 0; i < c.answers.size(); ++i) c.answers[i] = load(b.answers[i]);
  c.held = load(b.held);
  c.heldFound = load(b.heldFound);
  return c;
}

Result<Block*> mapFile(int fd, const std::string& path) {
  void* p = ::mmap(nullptr, sizeof(Block), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return fail(sysError(errno, "mapping " + path));
  return static_cast<Block*>(p);
}

// A file of another layout is replaced (a new file renamed over it), never truncated in place: a watcher
// that has the old one mapped keeps reading valid memory.
Result<Block*> fresh(const std::string& path) {
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return fail(sysError(errno, "creating " + tmp));
  if (::ftruncate(fd.get(), sizeof(Block)) != 0) return fail(sysError(errno, "sizing " + tmp));
  Block* b = TRY(mapFile(fd.get(), tmp));
  std::memcpy(b->magic, kMagic, sizeof kMagic);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::munmap(b, sizeof(Block));
    ::unlink(tmp.c_str());
    return fail(sysError(err, "renaming " + tmp));
  }
  return b;
}

}  // namespace

Result<std::string> resolverCountersFile(const std::string& stateDir) {
  return TRY(model::hostStateDir(stateDir)) + "/resolver-metrics.bin";
}

Result<ResolverCounters> ResolverCounters::open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return fail(sysError(errno, "opening " + path));
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return fail(sysError(errno, "fstat " + path));
  Block* b = nullptr;
  if (st.st_size == sizeof(Block)) {
    b = TRY(mapFile(fd.get(), path));
    if (std::memcmp(b->magic, kMagic, sizeof kMagic) != 0) ::munmap(std::exchange(b, nullptr), sizeof(Block));
  }
  if (!b) b = TRY(fresh(path));
  ResolverCounters c(b);
  c.mapped_ = true;
  return c;
}

ResolverCounters::ResolverCounters() : block_(new Block{}) {}

ResolverCounters::~ResolverCounters() {
  if (!block_) return;
  if (mapped_) ::munmap(block_, sizeof(Block));
  else delete block_;
}

ResolverCounters::ResolverCounters(ResolverCounters&& o) noexcept
    : block_(std::exchange(o.block_, nullptr)), mapped_(o.mapped_) {}

ResolverCounters& ResolverCounters::operator=(ResolverCounters&& o) noexcept {
  if (this != &o) {
    ResolverCounters old(std::move(*this));
    block_ = std::exchange(o.block_, nullptr);
    mapped_ = o.mapped_;
  }
  return *this;
}

void ResolverCounters::query(Transport t) { bump(block_->queries[size_t(t)]); }
void ResolverCounters::malformed() { bump(block_->malformed); }
void ResolverCounters::forwarded() { bump(block_->forwarded); }
void ResolverCounters::held() { bump(block_->held); }
void ResolverCounters::heldFound() { bump(block_->heldFound); }

void ResolverCounters::answer(const uint8_t* msg, size_t len) {
  if (len >= 12) bump(block_->answers[msg[3] & 0x0f]);
}

ResolverCounts ResolverCounters::read() const { return readBlock(*block_); }

Result<std::optional<ResolverCounts>> readResolverCounters(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return std::nullopt;
    return fail(sysError(errno, "opening " + path));
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return fail(sysError(errno, "fstat " + path));
  if (st.st_size != sizeof(Block)) return std::nullopt;
  void* p = ::mmap(nullptr, sizeof(Block), PROT_READ, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) return fail(sysError(errno, "mapping " + path));
  const auto* b = static_cast<const Block*>(p);
  std::optional<ResolverCounts> c;
  if (std::memcmp(b->magic, kMagic, sizeof kMagic) == 0) c = readBlock(*b);
  ::munmap(p, sizeof(Block));
  return c;
}

std::string rcodeName(unsigned rcode) {
  static constexpr const char* kNames[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                                           "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"};
  return rcode < std::size(kNames) ? kNames[rcode] : "RCODE" + std::to_string(rcode);
}

void exposeResolver(Exposition& e, const ResolverCounts& c) {
  e.family("overlay_cni_resolver_queries_total", "counter", "DNS queries overlay-resolver received from containers.",
           {{{{"transport", "udp"}}, double(c.queries[size_t(Transport::Udp)])},
            {{{"transport", "tcp"}}, double(c.queries[size_t(Transport::Tcp)])}});
  e.family("overlay_cni_resolver_queries_malformed_total", "counter",
           "DNS queries overlay-resolver could not parse (not answered).", {{{}, double(c.malformed)}});
  e.family("overlay_cni_resolver_forwarded_total", "counter",
           "DNS queries overlay-resolver relayed to its upstream resolvers.", {{{}, double(c.forwarded)}});
  e.family("overlay_cni_resolver_held_total", "counter",
           "DNS queries for a name of no table, held for a read of the asker's networks from the store (UDP).",
           {{{}, double(c.held)}});
  e.family("overlay_cni_resolver_held_found_total", "counter",
           "Held DNS queries whose name the read found (answered, not NXDOMAIN).", {{{}, double(c.heldFound)}});
  std::vector<GaugeSample> answers;
  for (unsigned r = 0; r < c.answers.size(); ++r)
    if (r <= 5 || c.answers[r]) answers.push_back({{{"rcode", rcodeName(r)}}, double(c.answers[r])});
  e.family("overlay_cni_resolver_answers_total", "counter",
           "DNS answers overlay-resolver sent to containers, by response code (relayed answers keep the upstream's).",
           answers);
}

}  // namespace ovl::metrics
