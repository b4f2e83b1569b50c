#include "ipam/range_set.hpp"

namespace ovl::ipam {
namespace {

using U128 = unsigned __int128;

U128 toU128(const IpAddr& a) {
  U128 v = 0;
  for (int i = 0; i < a.byteLen(); ++i) v = (v << 8) | a.bytes()[i];
  return v;
}

}  // namespace

bool Range::contains(const IpAddr& a) const {
  return a.family() == subnet.family() && subnet.contains(a) && a >= start && a <= end;
}

bool Range::overlaps(const Range& o) const {
  if (o.subnet.family() != subnet.family()) return false;
  return contains(o.start) || contains(o.end) || o.contains(start) || o.contains(end);
}

const Range* RangeSet::rangeFor(const IpAddr& a) const {
  for (const auto& r : ranges)
    if (r.contains(a)) return &r;
  return nullptr;
}

bool RangeSet::isGateway(const IpAddr& a) const {
  for (const auto& r : ranges)
    if (r.gateway == a) return true;
  return false;
}

std::string RangeSet::str() const {
  std::string s;
  for (const auto& r : ranges) {
    if (!s.empty()) s += ",";
    s += r.subnet.str() + " (" + r.start.str() + "-" + r.end.str() + ")";
  }
  return s;
}

uint64_t RangeSet::capacity() const {
  U128 total = 0;
  for (const auto& r : ranges) {
    U128 n = toU128(r.end) - toU128(r.start) + 1;
    if (r.contains(r.gateway)) --n;
    total += n;
    if (total >= U128(UINT64_MAX)) return UINT64_MAX;
  }
  return uint64_t(total);
}

RangeIter::RangeIter(const RangeSet& set, const std::optional<IpAddr>& cursor) : set_(&set) {
  if (set.ranges.empty()) {
    done_ = true;
    return;
  }
  if (cursor) {
    for (size_t i = 0; i < set.ranges.size(); ++i) {
      if (set.ranges[i].contains(*cursor)) {
        idx_ = i;
        cur_ = *cursor;  // the first next() returns the address after it
        return;
      }
    }
  }
  startIp_ = set.ranges[0].start;
}

std::optional<IpAddr> RangeIter::next() {
  const auto& ranges = set_->ranges;
  while (!done_) {
    if (!cur_) {
      const Range& r = ranges[idx_];
      cur_ = r.start;
      startIp_ = cur_;
      if (*cur_ == r.gateway) continue;
      return cur_;
    }
    if (*cur_ == ranges[idx_].end) {
      idx_ = (idx_ + 1) % ranges.size();
      cur_ = ranges[idx_].start;
    } else {
      cur_ = cur_->next();
    }
    if (!startIp_) {
      startIp_ = cur_;
    } else if (*cur_ == *startIp_) {
      done_ = true;  // one full turn
      break;
    }
    if (*cur_ == ranges[idx_].gateway) continue;
    return cur_;
  }
  return std::nullopt;
}

}  // namespace ovl::ipam
