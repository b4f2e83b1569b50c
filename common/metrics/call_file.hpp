// The host's record of plugin calls: one fixed-size file per host, <stateDir>/ns-<netns inode>/metrics.bin,
// that never grows. A header and kSlots slots; a slot is one series, keyed by (kind, plugin, name, code):
//   Call:    a verb's calls with one outcome (code 0 = ok, else the CNI error code), latency histogram
//   Phase:   time one call spent in a phase (ipam, store, nftables, netlink), histogram over the calls that entered it
//   Counter: store requests, CAS conflicts (count only)
// Bucket counts are per bucket (not cumulative); the last bucket is +Inf. Writers and readers hold flock on
// the file (exclusive / shared) for one read-modify-write of a few kilobytes. When every slot is taken, new
// series are dropped (counted in the header), old ones keep counting.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace ovl::metrics {

// Upper bounds in seconds, as Prometheus' default buckets with finer steps below 5 ms (a VERSION call).
inline constexpr std::array<double, 14> kBounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                0.1,    0.25,  0.5,    1,     2.5,  5,     10};
inline constexpr size_t kBuckets = kBounds.size() + 1;  // + the +Inf bucket
inline constexpr size_t kSlots = 96;

enum class Kind : uint32_t { Empty = 0, Call = 1, Phase = 2, Counter = 3 };

struct Slot {
  Kind kind = Kind::Empty;
  int32_t code = 0;
  char plugin[16] = {};
  char name[16] = {};
  uint64_t count = 0;
  uint64_t sumNs = 0;
  std::array<uint64_t, kBuckets> buckets{};

  std::string_view pluginName() const;
  std::string_view seriesName() const;
};

// One observation to add: `count` events, for Call/Phase one event of `ns` nanoseconds.
struct Sample {
  Kind kind;
  std::string_view plugin, name;
  int32_t code = 0;
  uint64_t count = 1;
  uint64_t ns = 0;
};

size_t bucketOf(uint64_t ns);
// Adds `s` to the matching slot of `slots`, or to a free one; false when none is free.
bool add(std::vector<Slot>& slots, const Sample& s);

struct Contents {
  std::vector<Slot> slots;  // the used ones
  uint64_t dropped = 0;     // samples that found no free slot
};

// Read-modify-write under an exclusive lock; creates the file (0600) at its full size.
Result<void> addToFile(const std::string& path, const std::vector<Sample>& samples);
// A missing file is empty contents.
Result<Contents> readFile(const std::string& path);

}  // namespace ovl::metrics
