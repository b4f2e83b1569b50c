// Address ranges as host-local defines them, and the order in which it hands addresses out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/ip.hpp"

namespace ovl::ipam {

// One {subnet, rangeStart, rangeEnd, gateway} entry, canonicalized (defaults filled in).
struct Range {
  IpNet subnet;       // network address / prefix
  IpAddr start, end;  // inclusive
  IpAddr gateway;
  std::string path;  // the config field it came from, e.g. "ipam.ranges[0][1]", for messages

  // In the subnet and within [start, end].
  bool contains(const IpAddr& a) const;
  bool overlaps(const Range& o) const;
  IpNet withPrefix(const IpAddr& a) const { return IpNet(a, subnet.prefix()); }
};

// The ranges one address per container is taken from (one inner list of "ranges").
struct RangeSet {
  std::vector<Range> ranges;

  const Range* rangeFor(const IpAddr& a) const;
  bool contains(const IpAddr& a) const { return rangeFor(a) != nullptr; }
  bool isGateway(const IpAddr& a) const;
  int family() const { return ranges.empty() ? 0 : ranges.front().subnet.family(); }
  std::string str() const;  // "10.0.0.0/24,10.0.1.0/24", for messages
  // Addresses that can be handed out (gateways excluded); saturates at UINT64_MAX.
  uint64_t capacity() const;
};

// host-local's round-robin order: starts after `cursor` when the cursor lies in the set, else at the
// first range's start; runs through the ranges in order, wrapping; skips gateways; ends after one turn.
class RangeIter {
 public:
  RangeIter(const RangeSet& set, const std::optional<IpAddr>& cursor);
  std::optional<IpAddr> next();

 private:
  const RangeSet* set_;
  size_t idx_ = 0;
  std::optional<IpAddr> cur_;
  std::optional<IpAddr> startIp_;
  bool done_ = false;
};

}  // namespace ovl::ipam
