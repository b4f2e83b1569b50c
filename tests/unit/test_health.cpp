// The health mesh without I/O: the per-pair state machine and probe sizes (overlay/health_state.hpp), the
// peers and MTU each pair is probed for (healthTargets), its records' JSON (model/health.hpp), and its
// figures on the metrics endpoint (overlay/health_figures.hpp).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "kv/node_config.hpp"
#include "metrics/exposition.hpp"
#include "model/health.hpp"
#include "overlay/health_figures.hpp"
#include "overlay/health_mesh.hpp"
#include "overlay/health_state.hpp"

using namespace ovl;
using overlay::Transition;

namespace {

struct Pair {
  model::PairHealth p{"h3"};
  bool known = false;
  Transition answered(double ms, int64_t now = 100) { return overlay::onRound(p, known, ms, now); }
  Transition lost(int64_t now = 100) { return overlay::onRound(p, known, std::nullopt, now); }
};

model::Member member(const char* host, const char* vtep, unsigned mtu) {
  return model::Member{host, *IpAddr::parse(vtep), 4789, 4096, mtu, 0};
}

}  // namespace

TEST_CASE("health: a pair is up at its first answer, down after 3 lost rounds, up again at one answer") {
  Pair x;
  CHECK(x.answered(0.4, 10) == Transition::Up);
  CHECK((x.known && x.p.up && x.p.since == 10 && x.p.rttMs == 0.4));
  CHECK(x.answered(0.5, 11) == Transition::None);  // still up: no transition, the RTT follows
  CHECK(x.p.rttMs == 0.5);
  CHECK(x.lost(12) == Transition::None);
  CHECK(x.lost(13) == Transition::None);
  CHECK(x.p.up);  // two lost rounds are not enough
  CHECK(x.lost(14) == Transition::Down);
  CHECK((!x.p.up && x.p.lost == 3 && x.p.since == 14));
  CHECK(x.lost(15) == Transition::None);  // said once
  CHECK(x.p.lost == 4);
  CHECK(x.answered(0.7, 16) == Transition::UpAgain);
  CHECK((x.p.up && x.p.lost == 0 && x.p.since == 16 && x.p.rttMs == 0.7));
}

TEST_CASE("health: a pair never answered is down after 3 rounds, an answer in between resets the count") {
  Pair x;
  CHECK(x.lost() == Transition::None);
  CHECK(x.lost() == Transition::None);
  CHECK_FALSE(x.known);  // not decided yet: not reported
  CHECK(x.lost() == Transition::Down);
  CHECK(x.known);
  Pair y;
  CHECK(y.answered(1) == Transition::Up);
  CHECK(y.lost() == Transition::None);
  CHECK(y.lost() == Transition::None);
  CHECK(y.answered(1) == Transition::None);
  CHECK(y.lost() == Transition::None);
  CHECK(y.lost() == Transition::None);
  CHECK(y.p.up);  // never 3 in a row
}

TEST_CASE("health: every peer is probed, a bounded number a round, however many there are") {
  using overlay::planRound;
  // Up to the bound: every peer every round, sizes every 5th round.
  for (unsigned round = 0; round < 10; ++round) {
    auto p = planRound(49, round, 100, 5);
    CHECK(p.first == 0);
    CHECK(p.end == 49);
    CHECK(p.sizes == (round % 5 == 0));
  }
  // 999 peers, 100 a round: 10 windows in turn, each peer once per 10 rounds, at most 100 at a time; each
  // window gets its size probes every 5th visit, not only the windows that fall on a round divisible by 5.
  std::vector<unsigned> probes(999), sized(999);
  for (unsigned round = 0; round < 100; ++round) {
    auto p = planRound(999, round, 100, 5);
    CHECK(p.end - p.first <= 100);
    for (size_t i = p.first; i < p.end; ++i) probes[i]++, sized[i] += p.sizes;
  }
  for (size_t i = 0; i < probes.size(); ++i) {
    CHECK(probes[i] == 10);
    CHECK(sized[i] == 2);
  }
  CHECK(planRound(999, 9, 100, 5).first == 900);
  CHECK(planRound(999, 9, 100, 5).end == 999);
  CHECK(planRound(0, 3, 100, 5).end == 0);
}

TEST_CASE("health: the log lines of the transitions") {
  model::PairHealth p{"h3"};
  p.rttMs = 0.42;
  p.lost = 3;
  CHECK(overlay::describe(Transition::Up, "h1", p) == "health: h1 -> h3 up, rtt 0.4 ms");
  CHECK(overlay::describe(Transition::UpAgain, "h1", p) == "health: h1 -> h3 up again, rtt 0.4 ms");
  CHECK(overlay::describe(Transition::Down, "h1", p) == "health: h1 -> h3 down (3 probes lost)");
  CHECK(overlay::describe(Transition::None, "h1", p).empty());
}

TEST_CASE("health: path MTU: probe sizes, and the MTU each pair is probed for") {
  using overlay::Probe;
  CHECK(overlay::probeSize(Probe::Echo, 1350) == 84);
  CHECK(overlay::probeSize(Probe::AtMtu, 1350) == 1350);
  CHECK(overlay::probeSize(Probe::AtMin, 1350) == 1280);
  CHECK(overlay::probeSize(Probe::AtMin, 1280) == 0);  // the MTU probe covers it
  CHECK(overlay::probeSize(Probe::AtMtu, 84) == 0);    // no larger than the echo
  CHECK(overlay::probeSize(Probe::AtMtu, 0) == 0);     // no MTU recorded: the echo only

  // Per network: the smaller of the two hosts' MTUs (either one when the other is not recorded); across the
  // networks a pair shares, the largest. Each other host once, never this one, none of a network without it.
  std::map<std::string, std::vector<model::Member>> members{
      {"a", {member("h1", "198.51.100.11", 1450), member("h2", "198.51.100.12", 1350)}},
      {"b", {member("h1", "198.51.100.11", 1400), member("h2", "198.51.100.12", 1450),
             member("h3", "198.51.100.13", 0)}},
      {"c", {member("h2", "198.51.100.12", 9000), member("h4", "198.51.100.14", 1500)}},  // h1 not a member
      {"d", {member("h1", "198.51.100.11", 0), member("h5", "198.51.100.15", 1500)}},
  };
  auto t = overlay::healthTargets(members, "h1");
  REQUIRE(t.size() == 3);
  CHECK((t[0].host == "h2" && t[0].mtu == 1400 && t[0].vtep == *IpAddr::parse("198.51.100.12")));
  CHECK((t[1].host == "h3" && t[1].mtu == 1400));  // h3's MTU not recorded: h1's
  CHECK((t[2].host == "h5" && t[2].mtu == 1500));  // h1's MTU not recorded on d: the peer's
  CHECK(overlay::healthTargets({}, "h1").empty());
}

TEST_CASE("health: records round-trip through their writer and reader") {
  model::HealthHost h{"h1", *IpAddr::parse("198.51.100.11"), *IpAddr::parse("100.64.255.7"),
                      MacAddr::fromSeed("health/h1")};
  auto h2 = model::parseHealthHost("P/health/hosts/h1", "h1", model::toJson(h));
  REQUIRE(h2);
  CHECK((h2->host == "h1" && h2->vtep == h.vtep && h2->addr == h.addr && h2->mac == h.mac));

  model::HealthReport r{"h1", 1700000000, {{"h2", true, 0.25, 1350, 1350, 0, 1699999990},
                                           {"h3", false, 0, 0, 1350, 7, 1699999999}}};
  auto r2 = model::parseHealthReport("P/health/reports/h1", "h1", model::toJson(r));
  REQUIRE(r2);
  CHECK((r2->host == "h1" && r2->time == r.time));
  REQUIRE(r2->pairs.size() == 2);
  const auto& a = r2->pairs[0];
  CHECK((a.peer == "h2" && a.up && a.rttMs == 0.25 && a.largest == 1350 && a.mtu == 1350 && a.since == 1699999990));
  const auto& b = r2->pairs[1];
  CHECK((b.peer == "h3" && !b.up && b.lost == 7));
  // A report without pairs is a report of no pairs.
  auto empty = model::parseHealthReport("k", "h1", R"({"time":5})");
  REQUIRE(empty);
  CHECK(empty->pairs.empty());
}

TEST_CASE("health: a bad record is an error naming its key, never a crash") {
  const char* key = "P/health/hosts/h1";
  for (const char* v : {"", "nope", "[]", "{}", R"({"vtep":"198.51.100.11","addr":"100.64.255.7"})",
                        R"({"vtep":"198.51.100.11","addr":"fd00::7","mac":"02:00:00:00:00:01"})",
                        R"({"vtep":"x","addr":"100.64.255.7","mac":"02:00:00:00:00:01"})",
                        R"({"vtep":"198.51.100.11","addr":7,"mac":"02:00:00:00:00:01"})"}) {
    auto got = model::parseHealthHost(key, "h1", v);
    REQUIRE_FALSE_MESSAGE(got, v);
    CHECK(got.error().code == Code::Decode);
    CHECK_MESSAGE(got.error().msg.find(std::string("record ") + key) == 0, got.error().msg);
  }
  const char* rkey = "P/health/reports/h1";
  for (const char* v : {"", "[]", "7", R"({"pairs":{}})", R"({"pairs":[7]})", R"({"pairs":[{"up":true}]})",
                        R"({"pairs":[{"peer":""}]})", R"({"pairs":[{"peer":"h2","largest":-1}]})",
                        R"({"pairs":[{"peer":"h2","mtu":1e300}]})", R"({"pairs":[{"peer":"h2","lost":"3"}]})",
                        R"({"pairs":[{"peer":"h2","rttMs":-0.5}]})", R"({"time":-1})", R"({"time":1e300})",
                        R"({"pairs":[{"peer":"h2","since":1e19}]})"}) {
    auto got = model::parseHealthReport(rkey, "h1", v);
    REQUIRE_FALSE_MESSAGE(got, v);
    CHECK(got.error().code == Code::Decode);
    CHECK_MESSAGE(got.error().msg.find(std::string("record ") + rkey) == 0, got.error().msg);
  }
  std::string deep(100, '[');
  CHECK_FALSE(model::parseHealthReport(rkey, "h1", R"({"pairs":)" + deep));
}

TEST_CASE("health: the figures on the metrics endpoint, one series per peer") {
  overlay::HealthFigures f;
  f.set({{"h2", true, true, 0.0004, 10, 1, 1350}, {"h3", false, false, 0, 2, 2, 0}});
  metrics::Exposition e;
  overlay::exposeHealth(e, f.get());
  const std::string& t = e.text();
  auto has = [&](const std::string& line) { return t.find(line + "\n") != std::string::npos; };
  CHECK(has("# TYPE overlay_cni_health_peer_up gauge"));
  CHECK(has(R"(overlay_cni_health_peer_up{peer="h2"} 1)"));
  CHECK(t.find(R"(overlay_cni_health_peer_up{peer="h3"})") == std::string::npos);  // not decided yet
  CHECK(has(R"(overlay_cni_health_rtt_seconds{peer="h2"} 4e-04)"));
  CHECK(t.find(R"(overlay_cni_health_rtt_seconds{peer="h3"})") == std::string::npos);  // never answered
  CHECK(has("# TYPE overlay_cni_health_probes_total counter"));
  CHECK(has(R"(overlay_cni_health_probes_total{peer="h2"} 10)"));
  CHECK(has(R"(overlay_cni_health_probes_lost_total{peer="h3"} 2)"));
  CHECK(has(R"(overlay_cni_health_path_largest_packet_bytes{peer="h2"} 1350)"));
  metrics::Exposition none;
  overlay::exposeHealth(none, {});
  CHECK(none.text().empty());
}

TEST_CASE("health: the node config turns the mesh off with health.enabled, and names the field when it is wrong") {
  auto on = kv::parseNodeConfig(R"({"health":{"vni":16777214}})", "n.json");
  REQUIRE(on);
  CHECK(on->healthEnabled);
  auto dflt = kv::parseNodeConfig(R"({})", "n.json");
  REQUIRE(dflt);
  CHECK(dflt->healthEnabled);
  auto off = kv::parseNodeConfig(R"({"health":{"enabled":false}})", "n.json");
  REQUIRE(off);
  CHECK_FALSE(off->healthEnabled);
  auto bad = kv::parseNodeConfig(R"({"health":{"enabled":"no"}})", "n.json");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().msg.find("health.enabled") != std::string::npos);
}
