// overlay-resolver's counters, shared with the watcher's metrics endpoint through one small fixed-size file,
// <stateDir>/ns-<netns inode>/resolver-metrics.bin, that the resolver maps and counts into: a query costs a
// few relaxed atomic increments in memory and no system call. The watcher maps it read-only at a scrape.
// The counts outlive a resolver restart (the file stays, like the plugins' metrics.bin) and start afresh
// when the layout changes. Single writer: the resolver's serving thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "metrics/exposition.hpp"
#include "util/error.hpp"

namespace ovl::metrics {

enum class Transport : uint8_t { Udp = 0, Tcp = 1 };

// One reading of the counters.
struct ResolverCounts {
  std::array<uint64_t, 2> queries{};   // by Transport
  uint64_t malformed = 0;              // queries that could not be parsed (no answer)
  uint64_t forwarded = 0;              // queries relayed to an upstream
  std::array<uint64_t, 16> answers{};  // answers sent to containers, by DNS rcode (the upstream's for relays)
  uint64_t held = 0;       // queries for an unknown name held for a read of the store
  uint64_t heldFound = 0;  // and of those, answered with the name the read found
};

// <stateDir>/ns-<netns inode>/resolver-metrics.bin (the directory is created).
Result<std::string> resolverCountersFile(const std::string& stateDir);

// The resolver's side: the mapped counters.
class ResolverCounters {
 public:
  struct Block;  // the file's layout (resolver_counters.cpp)
  // Maps `path`, created 0600 at its full size, keeping the counts of a file of this layout.
  static Result<ResolverCounters> open(const std::string& path);
  // Counters in memory only, for a resolver whose file could not be opened.
  ResolverCounters();
  ~ResolverCounters();
  ResolverCounters(ResolverCounters&& o) noexcept;
  ResolverCounters& operator=(ResolverCounters&& o) noexcept;

  void query(Transport t);
  void malformed();
  void forwarded();
  void held();
  void heldFound();
  // Counts the answer in a DNS message about to be sent (its rcode); shorter than a header: nothing.
  void answer(const uint8_t* msg, size_t len);
  ResolverCounts read() const;

 private:
  explicit ResolverCounters(Block* mapped) : block_(mapped) {}
  Block* block_ = nullptr;
  bool mapped_ = false;
};

// The watcher's side: nullopt when there is no file (no resolver ran on this host), or it has another layout.
Result<std::optional<ResolverCounts>> readResolverCounters(const std::string& path);

// The DNS name of an rcode (NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, ...; "RCODE<n>" past 10).
std::string rcodeName(unsigned rcode);

// overlay_cni_resolver_* families.
void exposeResolver(Exposition& e, const ResolverCounts& c);

}  // namespace ovl::metrics
