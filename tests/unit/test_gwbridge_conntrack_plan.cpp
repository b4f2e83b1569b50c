#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <vector>

#include "gwbridge/conntrack_plan.hpp"

using namespace ovl;
using namespace ovl::gwbridge;

namespace {

constexpr uint64_t kBuckets = 262'144;

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

CtFilter twoMappings() {  // figure 2b of the benchmark: -p 20000:80/tcp -p 20001:53/udp
  return CtFilter{.ports = {CtPort{.proto = Proto::Tcp, .port = 20000}, CtPort{.proto = Proto::Udp, .port = 20001}},
                  .addrs = {}};
}

}  // namespace

TEST_CASE("conntrack plan: nothing to find, nothing to dump") {
  CHECK(planDumps(CtFilter{}, CtTable{.tracked = 10, .buckets = kBuckets}).empty());
}

TEST_CASE("conntrack plan: filtered dumps, one per port and family, two per IPv4 address, one for IPv6") {
  CtFilter f = twoMappings();
  f.ports.push_back(CtPort{.proto = Proto::Tcp, .port = 20000});                           // again: no new dump
  f.ports.push_back(CtPort{.proto = Proto::Udp, .port = 53, .hostIp = ip("192.0.2.1")});  // IPv4 only
  f.addrs = {ip("172.18.0.2"), ip("fd00::2"), ip("fd00::3")};
  const CtTable busy{.tracked = 1'000'000, .buckets = kBuckets};
  const std::vector<CtQuery> want = {
      {.family = AF_INET, .proto = IPPROTO_TCP, .origDport = 20000},
      {.family = AF_INET6, .proto = IPPROTO_TCP, .origDport = 20000},
      {.family = AF_INET, .proto = IPPROTO_UDP, .origDport = 20001},
      {.family = AF_INET6, .proto = IPPROTO_UDP, .origDport = 20001},
      {.family = AF_INET, .proto = IPPROTO_UDP, .origDport = 53},
      {.family = AF_INET, .origSrc = ip("172.18.0.2")},
      {.family = AF_INET, .replySrc = ip("172.18.0.2")},
      {.family = AF_INET6},
  };
  CHECK(planDumps(f, busy) == want);
}

TEST_CASE("conntrack plan: one dump of everything while the namespace's entries cost less than the walks") {
  const CtFilter f = twoMappings();  // 4 filtered dumps: 3 walks saved by one unfiltered dump
  const std::vector<CtQuery> all = {CtQuery{.family = AF_UNSPEC}};
  CHECK(planDumps(f, CtTable{.tracked = 40, .buckets = kBuckets}) == all);
  const uint64_t breakEven = 3 * kBuckets / kBucketsPerEntry;
  CHECK(planDumps(f, CtTable{.tracked = breakEven - 1, .buckets = kBuckets}) == all);
  CHECK(planDumps(f, CtTable{.tracked = breakEven + 1, .buckets = kBuckets}).size() == 4);
  // Bucket count unknown: filtered.
  CHECK(planDumps(f, CtTable{.tracked = 1, .buckets = 0}).size() == 4);
  // A single dump is never traded for one that sends more.
  const CtFilter one{.ports = {CtPort{.proto = Proto::Udp, .port = 53, .hostIp = ip("192.0.2.1")}}, .addrs = {}};
  CHECK(planDumps(one, CtTable{.tracked = 1, .buckets = kBuckets}) ==
        std::vector<CtQuery>{{.family = AF_INET, .proto = IPPROTO_UDP, .origDport = 53}});
}

TEST_CASE("conntrack selection: towards a mapped host port, or from or to a container address") {
  const CtFilter f{.ports = {CtPort{.proto = Proto::Udp, .port = 5353},
                             CtPort{.proto = Proto::Tcp, .port = 8081, .hostIp = ip("198.51.100.11")}},
                   .addrs = {ip("172.18.0.2")}};
  auto isLocal = [](const IpAddr& a) { return a == ip("198.51.100.11") || a == ip("127.0.0.1"); };
  auto entry = [](uint8_t proto, const char* src, const char* dst, uint16_t dport, const char* replySrc) {
    return CtEntry{
        .proto = proto, .origDport = dport, .origSrc = ip(src), .origDst = ip(dst), .replySrc = ip(replySrc)};
  };
  // Towards the UDP mapping at any local address, DNAT'ed or not.
  CHECK(selects(f, entry(IPPROTO_UDP, "198.51.100.12", "198.51.100.11", 5353, "198.51.100.11"), isLocal));
  CHECK(selects(f, entry(IPPROTO_UDP, "127.0.0.1", "127.0.0.1", 5353, "172.18.0.9"), isLocal));
  // The same port number elsewhere (a masqueraded outbound flow), another protocol, another port: no.
  CHECK_FALSE(selects(f, entry(IPPROTO_UDP, "172.18.0.9", "203.0.113.1", 5353, "203.0.113.1"), isLocal));
  CHECK_FALSE(selects(f, entry(IPPROTO_TCP, "198.51.100.12", "198.51.100.11", 5353, "198.51.100.11"), isLocal));
  CHECK_FALSE(selects(f, entry(IPPROTO_UDP, "198.51.100.12", "198.51.100.11", 5354, "198.51.100.11"), isLocal));
  // A mapping with hostIP: that address only.
  CHECK(selects(f, entry(IPPROTO_TCP, "198.51.100.12", "198.51.100.11", 8081, "172.18.0.9"), isLocal));
  CHECK_FALSE(selects(f, entry(IPPROTO_TCP, "127.0.0.1", "127.0.0.1", 8081, "127.0.0.1"), isLocal));
  // From the container, or DNAT'ed to it.
  CHECK(selects(f, entry(IPPROTO_TCP, "172.18.0.2", "203.0.113.1", 443, "203.0.113.1"), isLocal));
  CHECK(selects(f, entry(IPPROTO_TCP, "198.51.100.12", "198.51.100.11", 9000, "172.18.0.2"), isLocal));
  // An entry without ports (ICMP) is matched by address only.
  CHECK_FALSE(selects(f, CtEntry{.proto = IPPROTO_ICMP, .origSrc = ip("198.51.100.12"), .origDst = ip("127.0.0.1")},
                      isLocal));
}
