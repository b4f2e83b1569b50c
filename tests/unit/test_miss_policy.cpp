// When `overlay watch` reads the store for reported misses (overlay/miss_policy.hpp): a network's addresses
// share one read, reads of a network keep networkGap apart, the host's reads stay under perSecond, addresses
// the store did not have rest for unknownFor, and every queue is bounded. Time is given, never slept.
#include <doctest/doctest.h>

#include <chrono>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "overlay/miss_policy.hpp"

using namespace ovl;
using overlay::MissPolicy;
using std::chrono::milliseconds;

namespace {

// Well after the clock's epoch: the policy takes a last read at the epoch for "never read".
const MissPolicy::Clock::time_point t0 = MissPolicy::Clock::time_point{} + std::chrono::hours(1);
MissPolicy::Clock::time_point at(int ms) { return t0 + milliseconds(ms); }

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

using Reads = std::vector<std::pair<std::string, std::set<IpAddr>>>;

MissPolicy::Limits limits(int gapMs, size_t perSecond) {
  MissPolicy::Limits l;
  l.networkGap = milliseconds(gapMs);
  l.networkBurst = 1;  // one read per gap: the tests below count on it
  l.perSecond = perSecond;
  return l;
}

}  // namespace

TEST_CASE("miss policy: a network's pending addresses share one read, and nothing waits afterwards") {
  MissPolicy p;
  CHECK_FALSE(p.nextDue().has_value());
  CHECK(p.due(at(0)).empty());
  CHECK(p.missed("blue", ip("10.1.0.5"), at(0)));
  CHECK(p.missed("blue", ip("10.1.0.6"), at(1)));
  CHECK(p.missed("blue", ip("10.1.0.5"), at(2)));  // again: still one address
  CHECK(p.pending() == 2);
  CHECK(p.nextDue() == at(0));  // never read: due from its first report
  CHECK(p.due(at(3)) == Reads{{"blue", {ip("10.1.0.5"), ip("10.1.0.6")}}});
  CHECK(p.pending() == 0);
  CHECK_FALSE(p.nextDue().has_value());
  CHECK(p.due(at(4)).empty());  // taken: not read twice
}

TEST_CASE("miss policy: reads of one network keep networkGap apart, coalescing what came in between") {
  MissPolicy p(limits(100, 20));
  REQUIRE(p.missed("blue", ip("10.1.0.5"), at(0)));
  CHECK(p.due(at(0)).size() == 1);
  CHECK(p.missed("blue", ip("10.1.0.6"), at(10)));
  CHECK(p.missed("blue", ip("10.1.0.7"), at(20)));
  CHECK(p.nextDue() == at(100));  // the last read plus the gap, not the report's time
  CHECK(p.due(at(50)).empty());
  CHECK(p.due(at(99)).empty());
  CHECK(p.due(at(100)) == Reads{{"blue", {ip("10.1.0.6"), ip("10.1.0.7")}}});
  // A report long after the gap is read at once; one inside it waits for the gap from that read.
  CHECK(p.missed("blue", ip("10.1.0.8"), at(500)));
  CHECK(p.nextDue() == at(500));
  CHECK(p.due(at(500)).size() == 1);
  CHECK(p.missed("blue", ip("10.1.0.9"), at(550)));
  CHECK(p.nextDue() == at(600));
  // The gap is per network: another network is read at once.
  CHECK(p.missed("green", ip("10.2.0.9"), at(550)));
  CHECK(p.nextDue() == at(550));
  CHECK(p.due(at(550)) == Reads{{"green", {ip("10.2.0.9")}}});
  CHECK(p.due(at(600)) == Reads{{"blue", {ip("10.1.0.9")}}});
}

TEST_CASE("miss policy: a network's reads come networkBurst at once, then one per networkGap") {
  MissPolicy::Limits l;  // the defaults: 3 at once, then one every 100 ms
  MissPolicy p(l);
  for (int i = 0; i < 3; ++i) {  // three containers' first contacts, 10 ms apart: each read at once
    REQUIRE(p.missed("blue", ip(("10.1.0." + std::to_string(10 + i)).c_str()), at(i * 10)));
    CHECK(p.nextDue() == at(i * 10));
    CHECK(p.due(at(i * 10)).size() == 1);
  }
  // The burst is spent: the fourth waits for the gap (the first read plus three gaps, less two).
  REQUIRE(p.missed("blue", ip("10.1.0.13"), at(30)));
  CHECK(p.nextDue() == at(100));
  CHECK(p.due(at(99)).empty());
  CHECK(p.due(at(100)).size() == 1);
  // A scan meets one read per gap from then on.
  REQUIRE(p.missed("blue", ip("10.1.0.14"), at(101)));
  CHECK(p.nextDue() == at(200));
  CHECK(p.due(at(200)).size() == 1);
  // After a quiet spell the burst is back.
  for (int i = 0; i < 3; ++i) {
    REQUIRE(p.missed("blue", ip(("10.1.0." + std::to_string(20 + i)).c_str()), at(1000 + i)));
    CHECK(p.due(at(1000 + i)).size() == 1);
  }
  REQUIRE(p.missed("blue", ip("10.1.0.23"), at(1003)));
  CHECK(p.due(at(1003)).empty());
}

TEST_CASE("miss policy: at most perSecond reads in any second across networks, and nextDue waits for the budget") {
  MissPolicy p(limits(0, 2));
  for (const char* net : {"a", "b", "c", "d"}) REQUIRE(p.missed(net, ip("10.3.0.1"), at(0)));
  CHECK(p.due(at(0)).size() == 2);
  CHECK(p.pending() == 2);
  // Both waiting networks are ready, but the second's budget is spent until the first read is a second old.
  CHECK(p.nextDue() == at(1000));
  CHECK(p.due(at(999)).empty());
  CHECK(p.due(at(1000)).size() == 2);
  CHECK(p.pending() == 0);
  // Later reports wait for the budget as well: it frees when the reads it holds are a second old.
  REQUIRE(p.missed("a", ip("10.3.0.2"), at(1200)));
  REQUIRE(p.missed("b", ip("10.3.0.2"), at(1200)));
  REQUIRE(p.missed("c", ip("10.3.0.2"), at(1200)));
  CHECK(p.nextDue() == at(2000));
  CHECK(p.due(at(2000)).size() == 2);  // both reads at 1000 expired together
  CHECK(p.nextDue() == at(3000));
  CHECK(p.due(at(2999)).empty());
  CHECK(p.due(at(3000)).size() == 1);
}

TEST_CASE("miss policy: the network waiting longest is read first, whatever its name") {
  MissPolicy p(limits(0, 1));
  REQUIRE(p.missed("zeta", ip("10.4.0.1"), at(0)));
  REQUIRE(p.missed("alpha", ip("10.4.0.2"), at(5)));
  REQUIRE(p.missed("mid", ip("10.4.0.3"), at(7)));
  CHECK(p.due(at(10)) == Reads{{"zeta", {ip("10.4.0.1")}}});
  CHECK(p.due(at(1010)) == Reads{{"alpha", {ip("10.4.0.2")}}});
  // A later report does not move a network back: "mid" has waited since 7.
  REQUIRE(p.missed("alpha", ip("10.4.0.4"), at(1500)));
  CHECK(p.due(at(2010)) == Reads{{"mid", {ip("10.4.0.3")}}});
  CHECK(p.due(at(3010)) == Reads{{"alpha", {ip("10.4.0.4")}}});
}

TEST_CASE("miss policy: an address the store did not have is not read for again within unknownFor") {
  MissPolicy::Limits l;
  l.networkGap = milliseconds(0);
  l.unknownFor = milliseconds(5000);
  MissPolicy p(l);
  REQUIRE(p.missed("blue", ip("10.5.0.9"), at(0)));
  REQUIRE(p.due(at(0)).size() == 1);
  p.unknown("blue", ip("10.5.0.9"), at(10));
  CHECK(p.unknowns() == 1);
  CHECK(p.knownAbsent("blue", ip("10.5.0.9"), at(20)));
  CHECK_FALSE(p.knownAbsent("green", ip("10.5.0.9"), at(20)));
  CHECK_FALSE(p.missed("blue", ip("10.5.0.9"), at(20)));
  CHECK_FALSE(p.missed("blue", ip("10.5.0.9"), at(5009)));
  CHECK(p.knownAbsent("blue", ip("10.5.0.9"), at(5009)));
  CHECK_FALSE(p.knownAbsent("blue", ip("10.5.0.9"), at(5010)));
  CHECK(p.pending() == 0);
  CHECK_FALSE(p.nextDue().has_value());
  // Per network: the same address elsewhere, and other addresses here, are read for.
  CHECK(p.missed("green", ip("10.5.0.9"), at(20)));
  CHECK(p.missed("blue", ip("10.5.0.10"), at(20)));
  CHECK(p.due(at(20)).size() == 2);
  // Once the time is up it is read for again, and no longer remembered.
  CHECK(p.missed("blue", ip("10.5.0.9"), at(5010)));
  CHECK(p.unknowns() == 0);
  CHECK(p.due(at(5010)) == Reads{{"blue", {ip("10.5.0.9")}}});
}

TEST_CASE("miss policy: pending addresses per network and remembered unknowns are bounded") {
  MissPolicy::Limits l;
  l.networkGap = milliseconds(0);
  l.pending = 2;
  l.unknowns = 2;
  l.unknownFor = milliseconds(1000);
  MissPolicy p(l);
  CHECK(p.missed("blue", ip("10.6.0.1"), at(0)));
  CHECK(p.missed("blue", ip("10.6.0.2"), at(0)));
  CHECK_FALSE(p.missed("blue", ip("10.6.0.3"), at(0)));  // full
  CHECK(p.missed("blue", ip("10.6.0.2"), at(0)));        // already waiting: still waits
  CHECK(p.missed("green", ip("10.6.0.3"), at(0)));       // the bound is per network
  CHECK(p.pending() == 3);
  CHECK(p.due(at(0)) == Reads{{"blue", {ip("10.6.0.1"), ip("10.6.0.2")}}, {"green", {ip("10.6.0.3")}}});
  CHECK(p.missed("blue", ip("10.6.0.3"), at(1)));  // room again after the read
  CHECK(p.due(at(1)).size() == 1);

  p.unknown("blue", ip("10.6.0.1"), at(10));
  p.unknown("blue", ip("10.6.0.2"), at(20));
  p.unknown("blue", ip("10.6.0.4"), at(30));  // full, and all recent: not remembered
  CHECK(p.unknowns() == 2);
  CHECK(p.missed("blue", ip("10.6.0.4"), at(40)));
  CHECK_FALSE(p.missed("blue", ip("10.6.0.1"), at(40)));
  CHECK(p.due(at(40)).size() == 1);  // nothing pending: below, only the unknowns refuse
  // Expired entries make room.
  p.unknown("blue", ip("10.6.0.5"), at(1010));  // 10.6.0.1's time is up at 1010
  CHECK(p.unknowns() == 2);
  CHECK_FALSE(p.missed("blue", ip("10.6.0.5"), at(1015)));
  CHECK_FALSE(p.missed("blue", ip("10.6.0.2"), at(1015)));
}

TEST_CASE("miss policy: forget drops a network's pending addresses and its unknowns, and only its") {
  MissPolicy p(limits(0, 20));
  REQUIRE(p.missed("blue", ip("10.7.0.1"), at(0)));
  REQUIRE(p.missed("green", ip("10.7.0.1"), at(0)));
  p.unknown("blue", ip("10.7.0.2"), at(0));
  p.unknown("green", ip("10.7.0.2"), at(0));
  p.forget("blue");
  CHECK(p.pending() == 1);
  CHECK(p.unknowns() == 1);
  CHECK(p.due(at(1)) == Reads{{"green", {ip("10.7.0.1")}}});
  CHECK(p.missed("blue", ip("10.7.0.2"), at(2)));  // no longer known to be unknown
  CHECK_FALSE(p.missed("green", ip("10.7.0.2"), at(2)));
  p.forget("nowhere");  // a network never seen
  CHECK(p.pending() == 1);
}

namespace {

MissPolicy::Limits askerLimits() {
  MissPolicy::Limits l;
  l.askerRate = 4;  // a token every 250 ms: exact in binary
  l.askerBurst = 2;
  l.askers = 2;
  return l;
}
MacAddr mac(const char* s) { return *MacAddr::parse(s); }

}  // namespace

TEST_CASE("miss policy: an asker has a burst of reports, then a rate, each asker its own budget") {
  MissPolicy p(askerLimits());
  const auto a = mac("02:00:00:00:00:0a"), b = mac("02:00:00:00:00:0b");
  CHECK(p.asked(a, at(0)));
  CHECK(p.asked(a, at(0)));
  CHECK_FALSE(p.asked(a, at(0)));    // the burst is spent
  CHECK_FALSE(p.asked(a, at(100)));  // 0.4 of a token
  CHECK(p.asked(a, at(250)));        // refused reports did not cost: the token came at 250
  CHECK_FALSE(p.asked(a, at(250)));
  CHECK(p.asked(b, at(250)));  // another asker is not held back by a's reports
  CHECK(p.asked(b, at(250)));
  CHECK_FALSE(p.asked(b, at(250)));
  // A long pause refills to the burst, not beyond.
  CHECK(p.asked(a, at(60000)));
  CHECK(p.asked(a, at(60000)));
  CHECK_FALSE(p.asked(a, at(60000)));
  CHECK(p.askers() == 2);
}

TEST_CASE("miss policy: askers beyond the bound have no budget of their own, and a full bucket makes room") {
  MissPolicy p(askerLimits());
  const auto a = mac("02:00:00:00:00:0a"), b = mac("02:00:00:00:00:0b"), c = mac("02:00:00:00:00:0c");
  REQUIRE(p.asked(a, at(0)));
  REQUIRE(p.asked(b, at(0)));
  for (int i = 0; i < 10; ++i) CHECK(p.asked(c, at(0)));  // not tracked: only the network's limits apply
  CHECK(p.askers() == 2);
  // At 250 ms a and b have their burst back: nothing is lost by forgetting them.
  CHECK(p.asked(c, at(250)));
  CHECK(p.askers() == 1);
  CHECK(p.asked(c, at(250)));
  CHECK_FALSE(p.asked(c, at(250)));  // tracked now, and limited
}

TEST_CASE("miss policy: addresses found missing stay awaited past unknownFor, per network, until found") {
  MissPolicy::Limits l = limits(0, 20);
  l.unknownFor = milliseconds(1000);
  MissPolicy p(l);
  p.unknown("blue", ip("10.7.0.2"), at(0));
  p.unknown("blue", ip("10.7.0.3"), at(0));
  p.unknown("green", ip("10.7.0.2"), at(0));
  // A read for it again is allowed after unknownFor, but its asker may still wait: it stays awaited.
  CHECK(p.missed("blue", ip("10.7.0.3"), at(1500)));
  CHECK(p.awaited("blue") == std::set<IpAddr>{ip("10.7.0.2")});
  CHECK(p.awaited("green") == std::set<IpAddr>{ip("10.7.0.2")});
  CHECK(p.awaited("red").empty());
  p.found("blue", ip("10.7.0.2"));
  CHECK(p.awaited("blue").empty());
  CHECK(p.awaited("green") == std::set<IpAddr>{ip("10.7.0.2")});  // another network's is its own
  p.found("blue", ip("10.7.0.9"));  // never missing: nothing to do
  CHECK(p.unknowns() == 1);
}
