#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "fixture.hpp"
#include "gwbridge/conntrack.hpp"
#include "ns/netns.hpp"

using namespace ovl;
using namespace ovl::test;
using namespace ovl::gwbridge;

namespace {

// One UDP datagram from srcPort to dst:port, sent from the calling thread's namespace: an unreplied entry.
void sendUdp(const char* dst, uint16_t port, uint16_t srcPort) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{.sin_family = AF_INET, .sin_port = htons(srcPort), .sin_addr = {}, .sin_zero = {}};
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  CHECK(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  a.sin_port = htons(port);
  REQUIRE(inet_pton(AF_INET, dst, &a.sin_addr) == 1);
  CHECK(sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&a), sizeof a) == 1);
  close(fd);
}

// A namespace that tracks connections (a ct rule on output) and has 192.0.2.1/24 on a link that is up.
struct CtNetns {
  TestNetns t;
  CtNetns() {
    addTestLink(t, "ct0");
    run(t.ip() + "link set lo up");
    run(t.ip() + "link set ct0 up");
    run(t.ip() + "addr add 192.0.2.1/24 dev ct0");
    run("ip netns exec " + t.name() +
        " nft 'add table inet ovlct; add chain inet ovlct out { type filter hook output priority 0; };"
        " add rule inet ovlct out ct state new counter'");
  }
  std::string entries() const { return sh("ip netns exec " + t.name() + " conntrack -L 2>/dev/null"); }
  bool has(const std::string& needle) const { return entries().find(needle) != std::string::npos; }
};

// Towards the mapped port at local addresses (127.0.0.1, 192.0.2.1), to an unmapped port, and one flow
// from this host to the same port number elsewhere (a masqueraded outbound flow).
void makeFlows() {
  sendUdp("127.0.0.1", 5454, 40001);
  sendUdp("192.0.2.1", 5454, 40002);
  sendUdp("127.0.0.1", 5455, 40003);
  sendUdp("192.0.2.99", 5454, 40004);
}

}  // namespace

TEST_CASE("flushConntrack deletes exactly a mapping's entries with either plan") {
  const CtFilter f{.ports = {CtPort{.proto = Proto::Udp, .port = 5454}}, .addrs = {}};
  CtFilter twoPorts = f;
  twoPorts.ports.push_back(CtPort{.proto = Proto::Tcp, .port = 5454});
  const std::vector<std::vector<CtQuery>> plans = {
      planDumps(twoPorts, CtTable{.tracked = 1'000'000, .buckets = 1}),  // filtered, one dump per port and family
      planDumps(twoPorts, CtTable{.tracked = 1, .buckets = 1'000'000}),  // one dump of everything
  };
  REQUIRE(plans[0].size() == 4);
  REQUIRE(plans[1] == std::vector<CtQuery>{CtQuery{.family = AF_UNSPEC}});
  for (const auto& plan : plans) {
    CAPTURE(plan.size());
    CtNetns n;
    auto inside = OKV(ns::ScopedNetns::enter(n.t.ns));
    makeFlows();
    REQUIRE(n.has("sport=40001 dport=5454"));
    CHECK(OKV(flushConntrack(twoPorts, plan)) == 2);
    CHECK_FALSE(n.has("sport=40001 dport=5454"));
    CHECK_FALSE(n.has("sport=40002 dport=5454"));
    CHECK(n.has("sport=40003 dport=5455"));                // another port
    CHECK(n.has("dst=192.0.2.99 sport=40004 dport=5454"));  // not towards this host
    CHECK(OKV(flushConntrack(twoPorts, plan)) == 0);
  }
}

TEST_CASE("flushConntrack: a mapping's hostIP and a container's address") {
  CtNetns n;
  auto inside = OKV(ns::ScopedNetns::enter(n.t.ns));
  makeFlows();
  // hostIP 192.0.2.1: the entry towards 127.0.0.1 stays.
  const CtFilter hostIp{.ports = {CtPort{.proto = Proto::Udp, .port = 5454, .hostIp = IpAddr::parse("192.0.2.1")}},
                        .addrs = {}};
  CHECK(OKV(flushConntrack(hostIp)) == 1);
  CHECK(n.has("sport=40001 dport=5454"));
  CHECK_FALSE(n.has("sport=40002 dport=5454"));
  // An address: entries from it (the outbound flow's source is 192.0.2.1), in both plans' reach.
  const CtFilter addr{.ports = {}, .addrs = {*IpAddr::parse("192.0.2.1")}};
  CHECK(OKV(flushConntrack(addr, planDumps(addr, CtTable{.tracked = 1'000'000, .buckets = 1}))) == 1);
  CHECK_FALSE(n.has("sport=40004 dport=5454"));
  CHECK(n.has("sport=40001 dport=5454"));
  CHECK(n.has("sport=40003 dport=5455"));
}
