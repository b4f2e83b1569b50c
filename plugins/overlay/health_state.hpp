// The health mesh's per-pair state machine and probe sizes, without I/O: a pair is down after kLostRounds
// rounds in a row without an answer and up again after one answered round.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "model/health.hpp"

namespace ovl::overlay {

inline constexpr unsigned kLostRounds = 3;
inline constexpr unsigned kEchoSize = 84;   // the reachability echo (ping's default)
inline constexpr unsigned kMinSize = 1280;  // the size below the network MTU that is probed too

// The probes of one round to a peer: their sequence number's offset from the round's base.
enum class Probe : unsigned { Echo = 0, AtMtu = 1, AtMin = 2 };

// The IP packet size (bytes, DF) of a probe to a pair whose MTU is `mtu`; 0: not sent (the MTU probe when
// the MTU is not above the echo's size, the 1280-byte one when the MTU is not above 1280).
inline unsigned probeSize(Probe k, unsigned mtu) {
  switch (k) {
    case Probe::Echo: return kEchoSize;
    case Probe::AtMtu: return mtu > kEchoSize ? mtu : 0;
    case Probe::AtMin: return mtu > kMinSize ? kMinSize : 0;
  }
  return 0;
}

// Which of `count` peers (in a stable order) a round probes, at most `perRound` of them: the peers are cut
// into ceil(count / perRound) windows, probed one window a round in turn, so that every peer is probed every
// that many rounds however large the cluster (a host's probes stay bounded: its cost does not grow with the
// cluster). `sizes`: this visit of the window is one for the path-MTU probes, every `sizeEvery`-th.
struct RoundPlan {
  size_t first = 0, end = 0;  // the window [first, end)
  bool sizes = false;
};
inline RoundPlan planRound(size_t count, unsigned round, unsigned perRound, unsigned sizeEvery) {
  if (count == 0 || perRound == 0) return {};
  const size_t windows = (count + perRound - 1) / perRound;
  const size_t window = round % windows, visit = round / windows;
  return {window * perRound, std::min(count, (window + 1) * perRound), visit % sizeEvery == 0};
}

enum class Transition { None, Up, UpAgain, Down };

// `rttMs`: the round's answered echo, nullopt when it was lost.
inline Transition onRound(model::PairHealth& p, bool& known, std::optional<double> rttMs, int64_t now) {
  if (rttMs) {
    p.rttMs = *rttMs;
    p.lost = 0;
    if (known && p.up) return Transition::None;
    const bool wasDown = known;
    known = true;
    p.up = true;
    p.since = now;
    return wasDown ? Transition::UpAgain : Transition::Up;
  }
  ++p.lost;
  if (p.lost < kLostRounds || (known && !p.up)) return Transition::None;
  known = true;
  p.up = false;
  p.since = now;
  return Transition::Down;
}

// The watcher's log line for a transition of `self` -> `p.peer`, empty for None.
inline std::string describe(Transition t, const std::string& self, const model::PairHealth& p) {
  auto rtt = [&] {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", p.rttMs);
    return std::string(b);
  };
  const std::string pair = "health: " + self + " -> " + p.peer;
  switch (t) {
    case Transition::Up: return pair + " up, rtt " + rtt() + " ms";
    case Transition::UpAgain: return pair + " up again, rtt " + rtt() + " ms";
    case Transition::Down: return pair + " down (" + std::to_string(p.lost) + " probes lost)";
    case Transition::None: break;
  }
  return {};
}

}  // namespace ovl::overlay
