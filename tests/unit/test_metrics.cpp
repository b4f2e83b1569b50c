// The metrics library (common/metrics/): the host's call file, the text format, the listen address.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "kv/node_config.hpp"
#include "metrics/call_file.hpp"
#include "metrics/exposition.hpp"
#include "metrics/listen_addr.hpp"
#include "metrics/resolver_counters.hpp"
#include "metrics/scrape.hpp"
#include "nfnl/ruleset_counts.hpp"
#include "overlayctl/top_figures.hpp"

using namespace ovl;
using metrics::Kind;

namespace {

std::string tempFile() {
  char dir[] = "/tmp/ovl-metrics-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  return std::string(dir) + "/metrics.bin";
}

bool has(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

}  // namespace

TEST_CASE("metrics: bucket bounds are inclusive upper bounds, the last bucket is +Inf") {
  CHECK(metrics::bucketOf(0) == 0);
  CHECK(metrics::bucketOf(500'000) == 0);  // 0.5 ms
  CHECK(metrics::bucketOf(500'001) == 1);
  CHECK(metrics::bucketOf(10'000'000'000) == metrics::kBounds.size() - 1);
  CHECK(metrics::bucketOf(10'000'000'001) == metrics::kBounds.size());
}

TEST_CASE("metrics: samples with one key share a slot, a full table drops new keys only") {
  std::vector<metrics::Slot> slots(2);
  CHECK(metrics::add(slots, {Kind::Call, "overlay", "ADD", 0, 1, 2'000'000}));
  CHECK(metrics::add(slots, {Kind::Call, "overlay", "ADD", 0, 1, 3'000'000}));
  CHECK(metrics::add(slots, {Kind::Call, "overlay", "ADD", 7, 1, 1'000}));
  CHECK_FALSE(metrics::add(slots, {Kind::Call, "overlay", "DEL", 0, 1, 1'000}));
  CHECK(metrics::add(slots, {Kind::Call, "overlay", "ADD", 0, 1, 1'000}));
  CHECK(slots[0].count == 3);
  CHECK(slots[0].sumNs == 5'001'000);
  CHECK(slots[1].code == 7);
}

TEST_CASE("metrics: the file keeps its size and adds up concurrent writers exactly") {
  const std::string path = tempFile();
  constexpr int kProcs = 4, kCalls = 50;
  for (int p = 0; p < kProcs; ++p) {
    if (::fork() == 0) {
      for (int i = 0; i < kCalls; ++i)
        if (!metrics::addToFile(path, {{Kind::Call, "overlay-ipam", "ADD", 0, 1, 1'000'000},
                                       {Kind::Counter, "overlay-ipam", "store_requests", 0, 3, 0}}))
          std::_Exit(1);
      std::_Exit(0);
    }
  }
  for (int p = 0; p < kProcs; ++p) {
    int st = 0;
    ::wait(&st);
    CHECK(WEXITSTATUS(st) == 0);
  }
  auto c = metrics::readFile(path);
  REQUIRE(c);
  REQUIRE(c->slots.size() == 2);
  CHECK(c->slots[0].count == kProcs * kCalls);
  CHECK(c->slots[0].buckets[1] == kProcs * kCalls);  // 1 ms
  CHECK(c->slots[1].count == 3 * kProcs * kCalls);
  CHECK(c->dropped == 0);
  auto missing = metrics::readFile(path + ".absent");
  REQUIRE(missing);
  CHECK(missing->slots.empty());
}

TEST_CASE("metrics: the text format has cumulative buckets, _sum, _count and escaped labels") {
  std::vector<metrics::Slot> slots(4);
  metrics::add(slots, {Kind::Call, "overlay", "ADD", 0, 1, 2'000'000});     // 2 ms
  metrics::add(slots, {Kind::Call, "overlay", "ADD", 0, 1, 200'000'000});   // 200 ms
  metrics::add(slots, {Kind::Call, "overlay", "ADD", 7, 1, 100'000});       // 0.1 ms, code 7
  metrics::add(slots, {Kind::Phase, "overlay", "ipam", 0, 1, 20'000'000});  // 20 ms
  metrics::Contents c;
  for (const auto& s : slots)
    if (s.kind != Kind::Empty) c.slots.push_back(s);
  metrics::Exposition e;
  e.calls(c);
  e.family("overlay_cni_network_members", "gauge", "Members.", {{{{"network", "a\"b\\c"}}, 3}});
  const std::string& t = e.text();
  const std::string ok = "plugin=\"overlay\",verb=\"ADD\",outcome=\"ok\",code=\"0\"";
  CHECK(has(t, "# TYPE overlay_cni_plugin_calls_total counter"));
  CHECK(has(t, "overlay_cni_plugin_calls_total{" + ok + "} 2"));
  CHECK(has(t, "overlay_cni_plugin_calls_total{plugin=\"overlay\",verb=\"ADD\",outcome=\"error\",code=\"7\"} 1"));
  CHECK(has(t, "# TYPE overlay_cni_plugin_call_duration_seconds histogram"));
  CHECK(has(t, "overlay_cni_plugin_call_duration_seconds_bucket{" + ok + ",le=\"0.001\"} 0"));
  CHECK(has(t, "overlay_cni_plugin_call_duration_seconds_bucket{" + ok + ",le=\"0.0025\"} 1"));
  CHECK(has(t, "overlay_cni_plugin_call_duration_seconds_bucket{" + ok + ",le=\"0.25\"} 2"));
  CHECK(has(t, "overlay_cni_plugin_call_duration_seconds_bucket{" + ok + ",le=\"+Inf\"} 2"));
  CHECK(has(t, "overlay_cni_plugin_call_duration_seconds_sum{" + ok + "} 0.202"));
  CHECK(has(t, "overlay_cni_plugin_call_duration_seconds_count{" + ok + "} 2"));
  CHECK(has(t, "overlay_cni_plugin_phase_duration_seconds_count{plugin=\"overlay\",phase=\"ipam\"} 1"));
  CHECK(has(t, "overlay_cni_network_members{network=\"a\\\"b\\\\c\"} 3"));
}

TEST_CASE("metrics: listen addresses") {
  auto a = metrics::ListenAddr::parse("198.51.100.11:9474");
  REQUIRE(a);
  CHECK(a->port == 9474);
  CHECK(a->str() == "198.51.100.11:9474");
  auto b = metrics::ListenAddr::parse("[::1]:80");
  REQUIRE(b);
  CHECK(b->str() == "[::1]:80");
  for (const char* bad : {"", "9474", "localhost:9474", "1.2.3.4:0", "1.2.3.4:65536", "::1:80", "[1.2.3.4]:80",
                          "1.2.3.4:80x"})
    CHECK_MESSAGE(!metrics::ListenAddr::parse(bad), bad);
}

TEST_CASE("metrics: the node config's metrics.listen is validated and names the field") {
  auto ok = kv::parseNodeConfig(R"({"metrics":{"listen":"127.0.0.1:9474"}})", "n.json");
  REQUIRE(ok);
  REQUIRE(ok->metricsListen);
  CHECK(ok->metricsListen->port == 9474);
  auto off = kv::parseNodeConfig(R"({})", "n.json");
  REQUIRE(off);
  CHECK_FALSE(off->metricsListen);
  auto bad = kv::parseNodeConfig(R"({"metrics":{"listen":"127.0.0.1"}})", "n.json");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().msg.find("metrics.listen") != std::string::npos);
  auto notObj = kv::parseNodeConfig(R"({"metrics":"127.0.0.1:9474"})", "n.json");
  REQUIRE_FALSE(notObj);
  CHECK(notObj.error().msg.find("'metrics'") != std::string::npos);
  auto notStr = kv::parseNodeConfig(R"({"metrics":{"listen":9474}})", "n.json");
  REQUIRE_FALSE(notStr);
  CHECK(notStr.error().msg.find("metrics.listen") != std::string::npos);
}

TEST_CASE("metrics: the text format reads back what the exposition writes") {
  std::vector<metrics::Slot> slots(2);
  metrics::add(slots, {Kind::Call, "gwbridge", "DEL", 0, 1, 4'000'000});
  metrics::add(slots, {Kind::Call, "gwbridge", "DEL", 11, 1, 6'000'000});
  metrics::Contents c{slots, 0};
  metrics::Exposition e;
  e.calls(c);
  e.family("overlay_cni_network_members", "gauge", "Members.", {{{{"network", "a\"b\\c"}}, 3}});
  auto samples = metrics::parseText(e.text());
  REQUIRE(samples);
  auto figures = ctl::summarize(*samples);
  const auto& del = figures.calls.at({"gwbridge", "DEL"});
  CHECK(del.ok == 1);
  CHECK(del.errors.at(11) == 1);
  CHECK(del.total() == 2);
  CHECK(del.seconds == doctest::Approx(0.010));
  CHECK(figures.networks.at("a\"b\\c").values.at("members") == 3);
  CHECK_FALSE(metrics::parseText("name{a=\"x} 1\n"));
  CHECK_FALSE(metrics::parseText("name 1x\n"));
  auto withTimestamp = metrics::parseText("# HELP x y\nx_total{a=\"1\"} +Inf 1700000000\n");
  REQUIRE(withTimestamp);
  CHECK((*withTimestamp)[0].labels.at("a") == "1");
}

TEST_CASE("metrics: the resolver's counter file counts by rcode, survives a restart, starts afresh on a new layout") {
  const std::string path = tempFile();
  auto none = metrics::readResolverCounters(path);
  REQUIRE(none);
  CHECK_FALSE(*none);  // no resolver ran: nothing to show
  {
    auto c = metrics::ResolverCounters::open(path);
    REQUIRE(c);
    uint8_t noerror[12] = {0x12, 0x34, 0x81, 0x80}, nxdomain[12] = {0x12, 0x34, 0x81, 0x83};
    for (int i = 0; i < 3; ++i) c->query(metrics::Transport::Udp);
    c->query(metrics::Transport::Tcp);
    c->malformed();
    c->forwarded();
    c->answer(noerror, sizeof noerror);
    c->answer(noerror, sizeof noerror);
    c->answer(nxdomain, sizeof nxdomain);
    c->answer(nxdomain, 11);  // shorter than a header: not an answer
    auto got = metrics::readResolverCounters(path);
    REQUIRE(got);
    REQUIRE(*got);
    CHECK((*got)->queries == std::array<uint64_t, 2>{3, 1});
    CHECK(((*got)->malformed == 1 && (*got)->forwarded == 1));
    CHECK(((*got)->answers[0] == 2 && (*got)->answers[3] == 1));
    CHECK((c->read().answers == (*got)->answers));
  }
  {
    auto again = metrics::ResolverCounters::open(path);  // a restarted resolver keeps counting
    REQUIRE(again);
    again->query(metrics::Transport::Udp);
    CHECK(again->read().queries[0] == 4);
  }
  {
    FILE* f = std::fopen(path.c_str(), "w");  // another layout
    REQUIRE(f);
    std::fputs("something else", f);
    std::fclose(f);
    auto other = metrics::readResolverCounters(path);
    REQUIRE(other);
    CHECK_FALSE(*other);
    auto fresh = metrics::ResolverCounters::open(path);
    REQUIRE(fresh);
    CHECK(fresh->read().queries[0] == 0);
    auto got = metrics::readResolverCounters(path);
    REQUIRE((got && *got));
  }
  metrics::ResolverCounters memoryOnly;  // a resolver whose file could not be opened still counts
  memoryOnly.forwarded();
  memoryOnly.held();
  memoryOnly.held();
  memoryOnly.heldFound();
  CHECK(memoryOnly.read().forwarded == 1);
  CHECK(memoryOnly.read().held == 2);
  CHECK(memoryOnly.read().heldFound == 1);
}

TEST_CASE("metrics: the resolver's families name the rcodes, the common ones even at 0") {
  CHECK(metrics::rcodeName(0) == "NOERROR");
  CHECK(metrics::rcodeName(3) == "NXDOMAIN");
  CHECK(metrics::rcodeName(5) == "REFUSED");
  CHECK(metrics::rcodeName(15) == "RCODE15");
  metrics::ResolverCounts c;
  c.queries = {5, 2};
  c.answers[0] = 4;
  c.answers[9] = 1;
  c.held = 7;
  c.heldFound = 3;
  metrics::Exposition e;
  metrics::exposeResolver(e, c);
  const std::string& t = e.text();
  CHECK(has(t, R"(overlay_cni_resolver_queries_total{transport="udp"} 5)"));
  CHECK(has(t, R"(overlay_cni_resolver_queries_total{transport="tcp"} 2)"));
  CHECK(has(t, "overlay_cni_resolver_forwarded_total 0"));
  CHECK(has(t, "overlay_cni_resolver_queries_malformed_total 0"));
  CHECK(has(t, R"(overlay_cni_resolver_answers_total{rcode="NOERROR"} 4)"));
  CHECK(has(t, R"(overlay_cni_resolver_answers_total{rcode="FORMERR"} 0)"));
  CHECK(has(t, R"(overlay_cni_resolver_answers_total{rcode="REFUSED"} 0)"));
  CHECK(has(t, R"(overlay_cni_resolver_answers_total{rcode="NOTAUTH"} 1)"));
  CHECK(has(t, "overlay_cni_resolver_held_total 7"));
  CHECK(has(t, "overlay_cni_resolver_held_found_total 3"));
  CHECK(t.find("YXDOMAIN") == std::string::npos);  // rare and 0: left out
  CHECK(metrics::parseText(t));
}

TEST_CASE("metrics: rules per table and elements per set, counted from a ruleset listing") {
  using nfnl::Family;
  nfnl::Listing l;
  l.tables = {{Family::Inet, "ovl_vxlan"}, {Family::Ip, "empty"}};
  const nfnl::Element e{.key = {1}, .data = {}, .comment = {}};
  l.sets = {{.family = Family::Inet, .table = "ovl_vxlan", .name = "allow4", .elements = {e, e}},
            {.family = Family::Inet, .table = "ovl_vxlan", .name = "allow6", .elements = {}},
            {.family = Family::Ip, .table = "empty", .name = "ports", .elements = {e}}};
  const nfnl::ListedRule r{.family = Family::Inet, .table = "ovl_vxlan", .chain = "input", .comment = {}, .handle = 6, .exprs = {}};
  l.rules = {r, r};
  const auto c = nfnl::countRuleset(l);
  CHECK(c.rules == std::map<std::pair<std::string, std::string>, size_t>{{{"inet", "ovl_vxlan"}, 2},
                                                                        {{"ip", "empty"}, 0}});
  using Set = std::tuple<std::string, std::string, std::string>;
  CHECK(c.elements ==
        std::map<Set, size_t>{{{"inet", "ovl_vxlan", "allow4"}, 2}, {{"inet", "ovl_vxlan", "allow6"}, 0},
                              {{"ip", "empty", "ports"}, 1}});
  CHECK(nfnl::countRuleset(nfnl::Listing{}).rules.empty());
}
