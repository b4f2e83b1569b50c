// ARP misses against the kernel: the watcher's lock (vxlan/watch_lock.hpp), the ARP reports' nf_tables rule
// (vxlan/arp_reports.hpp) and their listener (vxlan/misses.hpp), end to end from a container's ARP request to
// the announcement that answers it. Every socket, link, rule and lock file is made inside the test's own
// namespaces and a temporary state directory.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fixture.hpp"
#include "model/cluster.hpp"
#include "model/memory.hpp"
#include "model/network.hpp"
#include "overlay/miss_answerer.hpp"
#include "nfnl/batch.hpp"
#include "nfnl/listing.hpp"
#include "nl/link.hpp"
#include "ns/netns.hpp"
#include "util/unique_fd.hpp"
#include "vxlan/arp_reports.hpp"
#include "vxlan/datapath.hpp"
#include "vxlan/misses.hpp"
#include "vxlan/peers.hpp"
#include "vxlan/watch_lock.hpp"

using namespace ovl;
using namespace ovl::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// A state directory of the test's own, removed with everything in it.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/ovl-misses-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// Polls `f` until it holds or `within` has passed.
template <class F>
bool eventually(F f, std::chrono::milliseconds within = 5s) {
  const auto deadline = Clock::now() + within;
  for (;;) {
    if (f()) return true;
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

bool arpTableThere() {
  auto listed = nfnl::listTable(nfnl::Family::Bridge, vxlan::kArpTable);
  if (!listed) FAIL("listing table bridge ovl_arp: " << listed.error().msg);
  return listed->has_value();
}

void commitArpReports(bool on) {
  nfnl::Batch b;
  if (on) vxlan::addArpReports(b);
  else vxlan::addArpReportsRemoved(b);
  REQUIRE_OK(b.commit(on ? "test: adding the ARP reports" : "test: removing the ARP reports"));
}

void commitArpReportPort(const std::string& port, bool on) {
  nfnl::Batch b;
  if (on) vxlan::addArpReportPort(b, port);
  else vxlan::addArpReportPortRemoved(b, port);
  REQUIRE_OK(b.commit(on ? "test: reporting a port" : "test: no longer reporting a port"));
}

}  // namespace

TEST_CASE("watch lock: one watcher holds it, watcherRuns tells, release removes the file") {
  TestNetns t;
  TempDir dir;
  auto in = OKV(ns::ScopedNetns::enter(t.ns));  // the state is keyed by the namespace: the test's
  const std::string file = OKV(model::hostStateDir(dir.path)) + "/watch.lock";
  CHECK_FALSE(OKV(vxlan::watcherRuns(dir.path)));
  CHECK_FALSE(vxlan::WatchLock().held());

  auto lock = OKV(vxlan::WatchLock::acquire(dir.path));
  CHECK(lock.held());
  CHECK(OKV(vxlan::watcherRuns(dir.path)));
  const auto started = Clock::now();
  auto second = vxlan::WatchLock::acquire(dir.path);
  REQUIRE_FALSE(second);
  CHECK(second.error().code == Code::TryAgainLater);
  CHECK(second.error().msg.find(file) != std::string::npos);
  CHECK(Clock::now() - started >= 2s);  // it waited for a holder that lets go
  CHECK(OKV(vxlan::watcherRuns(dir.path)));  // the refused attempt took nothing

  lock.release();
  CHECK_FALSE(lock.held());
  CHECK_FALSE(std::filesystem::exists(file));
  CHECK_FALSE(OKV(vxlan::watcherRuns(dir.path)));
  lock.release();  // twice is nothing

  // A watcher that dies lets the lock go with its process but leaves the file: nobody runs.
  {
    auto dying = OKV(vxlan::WatchLock::acquire(dir.path));
    CHECK(OKV(vxlan::watcherRuns(dir.path)));
  }  // closed without release(), as the kernel closes it
  CHECK(std::filesystem::exists(file));
  CHECK_FALSE(OKV(vxlan::watcherRuns(dir.path)));
  auto next = OKV(vxlan::WatchLock::acquire(dir.path));  // the next watcher takes it at once
  CHECK(OKV(vxlan::watcherRuns(dir.path)));
  next.release();
}

TEST_CASE("watch lock: an ADD removes the ARP reports of a watcher that died, never those of a live one") {
  TestNetns t;
  TempDir dir;
  auto in = OKV(ns::ScopedNetns::enter(t.ns));  // nf_tables and the lock file of the test's namespace
  const std::string file = OKV(model::hostStateDir(dir.path)) + "/watch.lock";
  // No watcher ever ran: nothing to do, and nothing touched.
  commitArpReports(true);
  REQUIRE(arpTableThere());
  REQUIRE_OK(vxlan::dropOrphanedArpReports(dir.path));
  CHECK(arpTableThere());

  // A live watcher: its reports and its file stay.
  {
    auto live = OKV(vxlan::WatchLock::acquire(dir.path));
    REQUIRE_OK(vxlan::dropOrphanedArpReports(dir.path));
    CHECK(arpTableThere());
    CHECK(std::filesystem::exists(file));
    CHECK(OKV(vxlan::watcherRuns(dir.path)));
  }  // ... and then it dies
  REQUIRE(std::filesystem::exists(file));
  REQUIRE_OK(vxlan::dropOrphanedArpReports(dir.path));
  CHECK_FALSE(arpTableThere());
  CHECK_FALSE(std::filesystem::exists(file));
  REQUIRE_OK(vxlan::dropOrphanedArpReports(dir.path));  // idempotent

  // A watcher that died before it added the reports: the file goes, the missing table is no error.
  { auto early = OKV(vxlan::WatchLock::acquire(dir.path)); }
  REQUIRE(std::filesystem::exists(file));
  REQUIRE_OK(vxlan::dropOrphanedArpReports(dir.path));
  CHECK_FALSE(std::filesystem::exists(file));
  CHECK_FALSE(arpTableThere());
}

namespace {

// How many of this process's descriptors are open on `path`.
int openOn(const std::string& path) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(e.path(), ec) == path) ++n;
  }
  return n;
}

}  // namespace

// acquire() waits for the holder to let go, and each holder unlinks the file before it closes it (release(),
// and dropOrphanedArpReports in an ADD): a waiter that locked the unlinked file would run unseen (watcherRuns
// false), a second watcher would get a lock of its own, and if the first died its ARP reports would never be
// removed. acquire() locks again when the name no longer leads to the file it locked.
TEST_CASE("watch lock: a watcher that waited for the lock holds it under the file's name") {
  TestNetns t;
  TempDir dir;
  auto in = OKV(ns::ScopedNetns::enter(t.ns));
  const std::string file = OKV(model::hostStateDir(dir.path)) + "/watch.lock";
  Result<vxlan::WatchLock> waited = fail(Code::Internal, "not run");
  SUBCASE("the old watcher exits cleanly while the new one starts") {
    auto old = OKV(vxlan::WatchLock::acquire(dir.path));
    std::thread starting([&] { waited = vxlan::WatchLock::acquire(dir.path); });
    REQUIRE(eventually([&] { return openOn(file) == 2; }));  // the new watcher waits on the lock
    old.release();
    starting.join();
  }
  SUBCASE("an ADD removes a dead watcher's reports while the new one starts") {
    { auto died = OKV(vxlan::WatchLock::acquire(dir.path)); }  // an orphaned file
    // dropOrphanedArpReports' steps, held at its worst moment: opened and locked, the table removed next.
    UniqueFd add(::open(file.c_str(), O_RDWR | O_CLOEXEC));
    REQUIRE(add);
    flock l{};
    l.l_type = F_WRLCK;
    l.l_whence = SEEK_SET;
    REQUIRE(::fcntl(add.get(), F_OFD_SETLK, &l) == 0);
    std::thread starting([&] { waited = vxlan::WatchLock::acquire(dir.path); });
    REQUIRE(eventually([&] { return openOn(file) == 2; }));
    ::unlink(file.c_str());  // ... and it ends
    add.reset();
    starting.join();
  }
  REQUIRE(waited);
  CHECK(waited->held());
  CHECK(OKV(vxlan::watcherRuns(dir.path)));
  auto another = vxlan::WatchLock::acquire(dir.path);
  CHECK_FALSE(another);  // no second watcher
}

TEST_CASE("miss listener: one per namespace binds the log group, and it stops cleanly") {
  TestNetns t;
  auto in = OKV(ns::ScopedNetns::enter(t.ns));
  auto first = OKV(vxlan::MissListener::start(vxlan::kArpLogGroup, [] {}));
  auto second = vxlan::MissListener::start(vxlan::kArpLogGroup, [] {});
  REQUIRE_FALSE(second);
  CHECK_MESSAGE(second.error().msg.find(std::to_string(vxlan::kArpLogGroup)) != std::string::npos, second.error().msg);
  CHECK(second.error().code == Code::TryAgainLater);
  CHECK(first->take().empty());
  CHECK(first->reported() == 0);
  first.reset();  // joins its thread
  // Released with its socket: the group can be bound again.
  auto third = OKV(vxlan::MissListener::start(vxlan::kArpLogGroup, [] {}));
  CHECK(third->lost() == 0);
}

namespace {

constexpr uint16_t kMarkerType = 0x88b5;  // IEEE local experimental ether type

uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

// What a frame leaving by the underlay carries: "arp request for IP", "marker" (the test's own frame) or
// "other" for a VXLAN packet, "" for anything else.
std::string classify(const uint8_t* p, size_t n) {
  if (n < 14 + 20 || be16(p + 12) != ETH_P_IP || p[14 + 9] != IPPROTO_UDP) return "";
  const size_t udp = 14 + size_t(p[14] & 0x0f) * 4, inner = udp + 8 + 8;  // UDP and VXLAN headers
  if (n < inner + 14 || be16(p + udp + 2) != 4789) return "";
  const uint16_t type = be16(p + inner + 12);
  if (type == kMarkerType) return "marker";
  const uint8_t* arp = p + inner + 14;
  if (type != ETH_P_ARP || n < inner + 14 + 28 || be16(arp + 6) != 1) return "other";
  char ip[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, arp + 24, ip, sizeof ip);
  return std::string("arp request for ") + ip;
}

// The frames leaving by the underlay link, VXLAN packets decoded (classify).
class UnderlayTap {
 public:
  UnderlayTap(const TestNetns& t, int ifindex) : fd_(openTap(t, ifindex, SOCK_RAW, ETH_P_ALL)) {}
  // What went out before the container's next marker frame (which fails the test if it never comes).
  std::vector<std::string> untilMarker() {
    std::vector<std::string> got;
    for (std::string f; (f = next()) != "marker";) {
      REQUIRE(f != "timeout");
      if (!f.empty()) got.push_back(f);
    }
    return got;
  }
  // Whether `what` goes out within 5 s.
  bool sees(const std::string& what) {
    const auto deadline = Clock::now() + 5s;
    for (std::string f; Clock::now() < deadline;)
      if ((f = next()) == what) return true;
      else if (f == "timeout") return false;
    return false;
  }

 private:
  std::string next() {
    uint8_t buf[2048];
    const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    return n < 0 ? "timeout" : classify(buf, size_t(n));
  }
  UniqueFd fd_;
};

// A container on the network's bridge: namespace, veth (h0 on the host, c0 inside) with `addr`, and its
// sockets, made inside it. Its kernel gives up on an address after one ARP request, 100 ms later.
struct Container {
  TestNetns ns;
  MacAddr mac;
  int ifindex = 0;
  UniqueFd udp, raw;

  Container(const TestNetns& host, const std::string& bridge, const std::string& addr) {
    run(host.ip() + "link add h0 type veth peer name c0 netns " + ns.name());
    run(host.ip() + "link set h0 master " + bridge + " up");
    run(ns.ip() + "ntable change name arp_cache dev c0 ucast_probes 0 mcast_probes 1 retrans 100");
    run(ns.ip() + "addr add " + addr + " dev c0");
    run(ns.ip() + "link set c0 up");
    const auto c0 = OKV(nl::requireLink(ns.sock, "c0"));
    mac = c0.mac, ifindex = c0.index;
    auto in = OKV(ns::ScopedNetns::enter(ns.ns));
    udp = UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    raw = UniqueFd(::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    REQUIRE(udp);
    REQUIRE(raw);
  }
  // A datagram to `ip`: the container's kernel asks for it by ARP.
  void send(const char* ip) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(9);
    REQUIRE(::inet_pton(AF_INET, ip, &to.sin_addr) == 1);
    REQUIRE(::sendto(udp.get(), "x", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) == 1);
  }
  // A broadcast frame of the marker type: the bridge floods it to the VXLAN port like any other.
  void mark() {
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_protocol = htons(kMarkerType);
    to.sll_ifindex = ifindex;
    to.sll_halen = 6;
    std::memset(to.sll_addr, 0xff, 6);
    const char payload[46] = "ovl marker";
    REQUIRE(::sendto(raw.get(), payload, sizeof payload, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) == sizeof payload);
  }
  // "STATE MAC" of its neighbour entry for `ip` ("" when it has none; the MAC when it has one).
  std::string neigh(const char* ip) {
    auto j = shJson(ns.ip() + "-j neigh show " + ip + " dev c0");
    if (!j.IsArray() || j.Empty()) return "";
    std::string s = jstr(j, "0.state.0");
    if (j[0].HasMember("lladdr")) s += " " + jstr(j, "0.lladdr");
    return s;
  }
};

// Counts the listener's wake calls, and waits for them.
struct Wakes {
  std::mutex mu;
  std::condition_variable cv;
  int n = 0;
  void wake() {
    std::lock_guard lk(mu);
    ++n;
    cv.notify_all();
  }
};

// The reports taken until one for `ip` came, or 5 s passed.
std::set<vxlan::Miss> reportsUntil(vxlan::MissListener& l, Wakes& w, const IpAddr& ip) {
  std::set<vxlan::Miss> got;
  const auto deadline = Clock::now() + 5s;
  for (;;) {
    for (auto& m : l.take()) got.insert(m);
    for (const auto& m : got)
      if (m.ip == ip) return got;
    std::unique_lock lk(w.mu);
    const int seen = w.n;
    if (!w.cv.wait_until(lk, deadline, [&] { return w.n != seen; })) return got;
  }
}

bool anyFor(const std::set<vxlan::Miss>& ms, const char* ip) {
  for (const auto& m : ms)
    if (m.ip == *IpAddr::parse(ip)) return true;
  return false;
}

// `host` as a member of network `vni` with one other member, 198.51.100.2 (which "is there": VXLAN packets
// to it leave by ul0 at once): its underlay link and the network's devices, the flood list made.
std::pair<nl::LinkInfo, vxlan::NetDevices> memberHost(TestNetns& host, uint32_t vni) {
  addTestLink(host, "ul0");
  run(host.ip() + "addr add 198.51.100.1/24 dev ul0");
  run(host.ip() + "link set ul0 up");
  run(host.ip() + "neigh add 198.51.100.2 lladdr 02:00:00:00:02:02 dev ul0 nud permanent");
  const auto ul = OKV(nl::requireLink(host.sock, "ul0"));
  const vxlan::Underlay u{*IpAddr::parse("198.51.100.1"), ul.index, "ul0", 1500};
  vxlan::NetDevices dev;
  {
    auto in = OKV(ns::ScopedNetns::enter(host.ns));
    dev = OKV(vxlan::ensureNetDevices(host.sock, vni, u, 4789, 1450));
  }
  const std::vector<model::Member> members{{"h1", u.vtep, 4789, vni, 1450, 1500},
                                           {"h2", *IpAddr::parse("198.51.100.2"), 4789, vni, 1450, 1500}};
  REQUIRE_OK(vxlan::reconcileFlood(host.sock, dev.vxlan.index, u.vtep, members, vxlan::FloodSync::Exact));
  return {ul, dev};
}

}  // namespace

TEST_CASE("ARP reports: a request no entry answers is reported, not flooded, and the announcement answers it") {
  TestNetns host;
  const auto [ul, dev] = memberHost(host, 4747);
  Container box(host, dev.bridge.name, "10.47.0.2/24");
  UnderlayTap tap(host, ul.index);

  // The flood list works: the container's broadcast reaches the other member.
  box.mark();
  (void)tap.untilMarker();  // fails the test when the marker never comes

  Wakes wakes;
  std::unique_ptr<vxlan::MissListener> listener;
  vxlan::Announcer say;
  {
    auto in = OKV(ns::ScopedNetns::enter(host.ns));  // the rule, the log group and the announcer's socket
    commitArpReports(true);
    listener = OKV(vxlan::MissListener::start(vxlan::kArpLogGroup, [&] { wakes.wake(); }));
    say = OKV(vxlan::Announcer::open());
  }

  // A network the watcher has not synced yet (its port is not in the set): requests flood as before.
  box.send("10.47.0.8");
  CHECK(tap.sees("arp request for 10.47.0.8"));
  CHECK_FALSE(anyFor(listener->take(), "10.47.0.8"));
  {
    auto in = OKV(ns::ScopedNetns::enter(host.ns));
    commitArpReportPort(dev.vxlan.name, true);
  }

  // An address nobody answers: reported with the port, the bridge and the asker ...
  box.send("10.47.0.9");
  const auto got = reportsUntil(*listener, wakes, *IpAddr::parse("10.47.0.9"));
  CHECK(got.count(vxlan::Miss{dev.vxlan.index, dev.bridge.index, *IpAddr::parse("10.47.0.9"), box.mac,
                              *IpAddr::parse("10.47.0.2")}) == 1);
  CHECK(wakes.n > 0);
  CHECK(listener->reported() >= 1);
  CHECK(listener->lost() == 0);
  // ... and not sent to the other member (the marker behind it is).
  box.mark();
  for (const auto& f : tap.untilMarker()) CHECK(f != "arp request for 10.47.0.9");

  // The container gives up; then the watcher installs the peer: the announcement updates its entry.
  REQUIRE(eventually([&] { return box.neigh("10.47.0.9") == "FAILED"; }));
  const vxlan::Peer nine{*IpAddr::parse("10.47.0.9"), *MacAddr::parse("02:00:00:47:00:09"), *IpAddr::parse("198.51.100.2")};
  const vxlan::Peer ten{*IpAddr::parse("10.47.0.10"), *MacAddr::parse("02:00:00:47:00:0a"), *IpAddr::parse("198.51.100.2")};
  OKV(vxlan::syncPeers(host.sock, dev, {nine, ten}, say));
  CHECK(eventually([&] {
    const auto n = box.neigh("10.47.0.9");
    return n == "STALE 02:00:00:47:00:09" || n == "REACHABLE 02:00:00:47:00:09";
  }));
  CHECK(say.sent() == 2);

  // An address an entry has: the bridge answers, nothing is reported or sent.
  box.send("10.47.0.10");
  CHECK(eventually([&] { return box.neigh("10.47.0.10") == "REACHABLE 02:00:00:47:00:0a"; }));
  box.mark();
  for (const auto& f : tap.untilMarker()) CHECK(f != "arp request for 10.47.0.10");
  CHECK_FALSE(anyFor(listener->take(), "10.47.0.10"));

  // The network no longer reported (the watcher left it): a request no entry answers floods again, and
  // nothing is reported. The same without the table (no watcher).
  {
    auto in = OKV(ns::ScopedNetns::enter(host.ns));
    commitArpReportPort(dev.vxlan.name, false);
  }
  const uint64_t before = listener->reported();
  box.send("10.47.0.11");
  CHECK(tap.sees("arp request for 10.47.0.11"));
  CHECK_FALSE(anyFor(listener->take(), "10.47.0.11"));
  {
    auto in = OKV(ns::ScopedNetns::enter(host.ns));
    commitArpReportPort(dev.vxlan.name, true);
    commitArpReports(false);
  }
  box.send("10.47.0.12");
  CHECK(tap.sees("arp request for 10.47.0.12"));
  CHECK_FALSE(anyFor(listener->take(), "10.47.0.12"));
  CHECK(listener->reported() == before);
}

TEST_CASE("miss answerer: the feed's listing, then the leader's, answer a report on its own thread") {
  TestNetns host;
  const auto [ul, dev] = memberHost(host, 4848);
  Container box(host, dev.bridge.name, "10.48.0.2/24");
  UnderlayTap tap(host, ul.index);
  TempDir state;

  // The records are only parsed: no request is ever made to this address.
  kv::ConsulConfig store;
  store.addresses = {"http://198.51.100.9:8500"};
  const auto cluster = OKV(model::Cluster::connect(store));
  const std::string prefix = cluster.keys().attachmentsOf("ans");
  auto record = [&](const char* on, const char* cid, const char* ip, const std::string& mac, uint64_t at) {
    const model::Attachment a{"ans", on, cid, "eth0", mac, {std::string(ip) + "/24"}, {}, 0};
    return kv::KvPair{cluster.keys().attachment("ans", on, cid, "eth0"), model::toJson(a), at, at, 0};
  };
  // The change feed as the answerer sees it.
  std::mutex feedMu;
  std::vector<kv::KvPair> listing{record("h2", "c9", "10.48.0.9", "02:00:00:48:00:09", 10),
                                  record("h1", "c3", "10.48.0.3", "02:00:00:48:00:03", 10),
                                  record("h9", "c20", "10.48.0.20", "02:00:00:48:00:20", 10)};
  uint64_t listingIndex = 10;
  // The leader has one more record than the feed, and counts its reads; it can be slow. Its members: this
  // host, h2 and h7 (h7 joined a moment ago: the loop has not told the answerer).
  // Each read reads the attachments with the members (one request), or the members alone.
  std::atomic<int> leaderReads{0}, memberReads{0};
  std::atomic<bool> slowLeader{false}, leaderHasH8{false};
  auto leader = [&](const std::vector<std::string>& prefixes,
                    const std::atomic<bool>*) -> Result<std::vector<kv::ConsulClient::Watch>> {
    std::vector<kv::ConsulClient::Watch> out;
    for (const auto& p : prefixes) {
      if (p == cluster.keys().network("ans")) {
        kv::ConsulClient::Watch w{{}, 30, false};
        w.pairs.push_back({cluster.keys().networkConfig("ans"), model::definitionJson({"ans", 4848, "global", {}, ""}), 3, 3, 0});
        for (const auto& [h, vtep] : {std::pair{"h1", "198.51.100.1"}, {"h2", "198.51.100.2"}, {"h7", "198.51.100.7"},
                                      {"h8", "198.51.100.8"}})
          if (std::string_view(h) != "h8" || leaderHasH8)
            w.pairs.push_back({cluster.keys().member("ans", h),
                               model::toJson(model::Member{h, *IpAddr::parse(vtep), 4789, 4848, 1450, 1500}), 30, 30, 0});
        out.push_back(std::move(w));
        continue;
      }
      if (p != prefix) return fail(Code::Internal, "read of " + p);
      if (slowLeader) std::this_thread::sleep_for(1000ms);
      std::lock_guard lk(feedMu);
      kv::ConsulClient::Watch w{listing, listingIndex + 5, false};
      w.pairs.push_back(record("h2", "c60", "10.48.0.60", "02:00:00:48:00:60", listingIndex + 5));
      w.pairs.push_back(record("h2", "c70", "10.48.0.70", "02:00:00:48:00:70", listingIndex + 5));
      if (leaderHasH8) w.pairs.push_back(record("h8", "c88", "10.48.0.88", "02:00:00:48:00:88", listingIndex + 5));
      out.push_back(std::move(w));
    }
    ++(prefixes.size() == 1 ? memberReads : leaderReads);
    return out;
  };

  Wakes handoffs;
  auto figures = std::make_shared<overlay::MissFigures>();
  std::unique_ptr<vxlan::MissListener> listener;
  std::unique_ptr<overlay::MissAnswerer> answerer;
  const auto patience = 1500ms;
  {
    auto in = OKV(ns::ScopedNetns::enter(host.ns));  // the rule, the log group, the answerer's sockets and thread
    commitArpReports(true);
    commitArpReportPort(dev.vxlan.name, true);
    listener = OKV(vxlan::MissListener::start(vxlan::kArpLogGroup, nullptr));
    overlay::MissAnswerer::Config cfg{state.path, "h1", patience};
    cfg.reports = [l = listener.get()] { return l->take(); };
    cfg.readLeader = leader;
    cfg.limits.networkGap = 10ms;  // reads of the network are not held back past floodAfter here
    cfg.floodAfter = 300ms;
    cfg.handOff = [&] { handoffs.wake(); };
    answerer = OKV(overlay::MissAnswerer::start(std::move(cfg), cluster, figures));
    listener->setWake([a = answerer.get()] { a->notify(); });
  }
  struct Stop {  // the listener calls the answerer, which takes from the listener
    std::unique_ptr<vxlan::MissListener>& l;
    std::unique_ptr<overlay::MissAnswerer>& a;
    ~Stop() {
      if (l) l->setWake(nullptr);
      a.reset();
    }
  } stop{listener, answerer};
  answerer->setLatest([&](const std::string& p, uint64_t* index) -> std::optional<std::vector<kv::KvPair>> {
    std::lock_guard lk(feedMu);
    if (p != prefix) return std::nullopt;
    if (index) *index = listingIndex;
    return listing;
  });
  {
    // The loop's first full sync turns neigh_suppress on (it also keeps announcements off the VXLAN port).
    vxlan::Announcer quiet;
    OKV(vxlan::syncPeers(host.sock, dev, {}, quiet));
  }
  answerer->publish({{"ans", overlay::MissAnswerer::View{4848, dev, {{"h2", *IpAddr::parse("198.51.100.2")}}}}});
  std::set<vxlan::Miss> handed;
  auto handedFor = [&](const char* ip) {
    for (auto& m : answerer->handedOff()) handed.insert(m);
    return anyFor(handed, ip);
  };
  auto bridgeNeigh = [&](const char* ip) { return sh(host.ip() + "neigh show " + ip + " dev " + dev.bridge.name); };
  auto fdb = [&] { return sh("bridge -n " + host.name() + " fdb show dev " + dev.vxlan.name); };

  // An address of a member host in the listing: installed and announced by the answerer, not flooded, and
  // the loop is told what was installed, from which listing.
  box.send("10.48.0.9");
  REQUIRE(eventually([&] { return bridgeNeigh("10.48.0.9").find("lladdr 02:00:00:48:00:09 PERMANENT") != std::string::npos; }));
  CHECK(fdb().find("02:00:00:48:00:09 dst 198.51.100.2 self permanent") != std::string::npos);
  CHECK(fdb().find("02:00:00:48:00:09 master " + dev.bridge.name + " static") != std::string::npos);
  // The announcement resolved the container's pending entry (its queued datagram then left: DELAY).
  CHECK(eventually([&] {
    const auto n = box.neigh("10.48.0.9");
    return n.size() > 18 && n.substr(n.size() - 18) == " 02:00:00:48:00:09" && n.find("FAILED") == std::string::npos;
  }));
  INFO("the container's entry: " << box.neigh("10.48.0.9"));
  box.mark();
  for (const auto& f : tap.untilMarker()) CHECK(f != "arp request for 10.48.0.9");
  auto installs = answerer->takeInstalled("ans");
  REQUIRE(installs.size() == 1);
  CHECK(installs[0].peer == vxlan::Peer{*IpAddr::parse("10.48.0.9"), *MacAddr::parse("02:00:00:48:00:09"),
                                        *IpAddr::parse("198.51.100.2")});
  CHECK(installs[0].index == 10);
  CHECK(answerer->takeInstalled("ans").empty());
  CHECK(figures->fromFeed == 1);
  CHECK(figures->answered == 1);
  CHECK(leaderReads == 0);

  // This host's own container: nothing to install, nothing for the loop.
  box.send("10.48.0.3");
  CHECK(eventually([&] { return figures->ignored >= 1; }));
  CHECK(bridgeNeigh("10.48.0.3").empty());

  // A host that is not a member as far as the loop has told, nor in the leader's members (one read): the
  // loop's; the loop answered it (resolved) within floodAfter, so it is not flooded.
  box.send("10.48.0.20");
  CHECK(eventually([&] { return handedFor("10.48.0.20"); }, 1000ms));
  CHECK(memberReads == 1);
  answerer->resolved("ans", {*IpAddr::parse("10.48.0.20")});
  CHECK(bridgeNeigh("10.48.0.20").empty());
  CHECK(figures->joins == 0);

  // An address only the leader has: one read, and it is answered from that.
  box.send("10.48.0.60");
  REQUIRE(eventually([&] { return bridgeNeigh("10.48.0.60").find("lladdr 02:00:00:48:00:60 PERMANENT") != std::string::npos; }));
  CHECK(leaderReads == 1);
  CHECK(figures->reads == 2);  // and the members read
  CHECK(figures->answered == 2);
  CHECK(figures->fromFeed == 1);
  installs = answerer->takeInstalled("ans");
  REQUIRE(installs.size() == 1);
  CHECK(installs[0].index == 15);

  // An address neither has at first (an IP scan, or a feed and a leader that lag): one read says unknown,
  // and when the feed brings it within the patience it is answered.
  const auto asked = Clock::now();
  box.send("10.48.0.30");
  REQUIRE(eventually([&] { return figures->unknown >= 1; }));
  CHECK(leaderReads == 2);
  {
    std::lock_guard lk(feedMu);
    listing.push_back(record("h2", "c30", "10.48.0.30", "02:00:00:48:00:30", 11));
    listingIndex = 11;
  }
  answerer->changed(prefix);
  REQUIRE(eventually([&] { return !bridgeNeigh("10.48.0.30").empty(); }));
  CHECK(Clock::now() - asked < patience);
  installs = answerer->takeInstalled("ans");
  REQUIRE(installs.size() == 1);
  CHECK(installs[0].index == 11);
  CHECK(leaderReads == 2);

  // Asked again within MissPolicy's unknownFor: no second read. None of these went to the loop.
  const uint64_t unknowns = figures->unknown;
  box.send("10.48.0.40");
  REQUIRE(eventually([&] { return figures->unknown > unknowns; }));
  const int reads = leaderReads;
  std::this_thread::sleep_for(150ms);  // past the network's read gap
  box.send("10.48.0.40");
  std::this_thread::sleep_for(300ms);
  CHECK(leaderReads == reads);
  CHECK(bridgeNeigh("10.48.0.40").empty());
  CHECK_FALSE(handedFor("10.48.0.40"));
  CHECK_FALSE(handedFor("10.48.0.30"));
  CHECK_FALSE(handedFor("10.48.0.9"));
  // Every one was answered (or found unknown) before the fallback: nothing was flooded.
  CHECK(figures->flooded == 0);
  box.mark();
  for (const auto& f : tap.untilMarker()) CHECK(f.rfind("arp request for", 0) != 0);

  // The same, not answered by the loop in time: flooded, once.
  {
    std::lock_guard lk(feedMu);
    listing.push_back(record("h9", "c21", "10.48.0.21", "02:00:00:48:00:21", 11));
  }
  box.send("10.48.0.21");
  CHECK(eventually([&] { return handedFor("10.48.0.21"); }, 1000ms));
  CHECK(tap.sees("arp request for 10.48.0.21"));
  CHECK(eventually([&] { return figures->flooded == 1; }));

  // A leader that takes longer than floodAfter for an address only it has: the request goes on to the
  // members in the container's name, once, and the answer is installed when the read comes back.
  slowLeader = true;
  const uint64_t answered = figures->answered;
  box.send("10.48.0.70");
  CHECK(tap.sees("arp request for 10.48.0.70"));
  CHECK(eventually([&] { return figures->flooded == 2; }));
  REQUIRE(eventually([&] { return bridgeNeigh("10.48.0.70").find("lladdr 02:00:00:48:00:70 PERMANENT") != std::string::npos; }));
  CHECK(figures->answered == answered + 1);
  CHECK(figures->flooded == 2);
  installs = answerer->takeInstalled("ans");
  REQUIRE(installs.size() == 1);
  CHECK(installs[0].peer.ip == *IpAddr::parse("10.48.0.70"));
  slowLeader = false;

  // An address on h7, which the leader lists as a member and the loop does not know yet: joined here (its
  // flood entry and allow-list pair), installed and announced, not handed to the loop.
  {
    std::lock_guard lk(feedMu);
    listing.push_back(record("h7", "c77", "10.48.0.77", "02:00:00:48:00:77", 12));
    listingIndex = 12;
  }
  std::this_thread::sleep_for(150ms);  // past the members read gap
  box.send("10.48.0.77");
  REQUIRE(eventually([&] { return bridgeNeigh("10.48.0.77").find("lladdr 02:00:00:48:00:77 PERMANENT") != std::string::npos; }));
  CHECK(fdb().find("00:00:00:00:00:00 dst 198.51.100.7 self permanent") != std::string::npos);
  CHECK(fdb().find("02:00:00:48:00:77 dst 198.51.100.7 self permanent") != std::string::npos);
  CHECK(sh("ip netns exec " + host.name() + " nft list table inet " + std::string(vxlan::kAllowTable)).find("198.51.100.7") != std::string::npos);
  CHECK(figures->joins == 1);
  CHECK_FALSE(handedFor("10.48.0.77"));
  installs = answerer->takeInstalled("ans");
  REQUIRE(installs.size() == 1);
  CHECK(installs[0].peer.vtep == *IpAddr::parse("198.51.100.7"));

  // An address only the leader has, on a host (h8) that joined a moment ago: the read of the attachments
  // brought the members too, so it is joined and answered after that one request, without a members read.
  leaderHasH8 = true;
  const int attachmentReads = leaderReads, membersReads = memberReads;
  box.send("10.48.0.88");
  REQUIRE(eventually([&] { return bridgeNeigh("10.48.0.88").find("lladdr 02:00:00:48:00:88 PERMANENT") != std::string::npos; }));
  CHECK(fdb().find("00:00:00:00:00:00 dst 198.51.100.8 self permanent") != std::string::npos);
  CHECK(fdb().find("02:00:00:48:00:88 dst 198.51.100.8 self permanent") != std::string::npos);
  CHECK(sh("ip netns exec " + host.name() + " nft list table inet " + std::string(vxlan::kAllowTable)).find("198.51.100.8") != std::string::npos);
  CHECK(figures->joins == 2);
  CHECK(leaderReads == attachmentReads + 1);
  CHECK(memberReads == membersReads);
  CHECK_FALSE(handedFor("10.48.0.88"));
  installs = answerer->takeInstalled("ans");
  REQUIRE(installs.size() == 1);
  CHECK(installs[0].peer.vtep == *IpAddr::parse("198.51.100.8"));
  CHECK(installs[0].index == 30);  // the newer of the two listings' indexes (the members' here)

  // A network the loop no longer has synced: its reports are the loop's at once.
  answerer->publish({});
  box.send("10.48.0.50");
  CHECK(eventually([&] { return handedFor("10.48.0.50"); }, 1000ms));
  CHECK(answerer->takeInstalled("ans").empty());
  {
    auto in = OKV(ns::ScopedNetns::enter(host.ns));
    commitArpReports(false);
  }
}
