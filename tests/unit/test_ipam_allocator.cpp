// The allocator against an in-memory store: host-local's order, cursor, wrap, gateways, statics,
// dual-stack, exhaustion, idempotent ADD, all-or-nothing, and competing hosts.
#include <doctest/doctest.h>

#include <set>

#include "cni/config.hpp"
#include "ipam/allocator.hpp"
#include "ipam/config.hpp"
#include "ipam/lease_ops.hpp"
#include "ipam/memory_store.hpp"

using namespace ovl;
using namespace ovl::ipam;

namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

std::vector<RangeSet> sets(const std::string& ipam) {
  auto n = cni::parseNetConf(R"({"cniVersion":"1.0.0","name":"n","ipam":)" + ipam + "}");
  REQUIRE(n);
  auto c = parseIpamConf(*n, kv::NodeConfig{}, Need::Ranges);
  REQUIRE_MESSAGE(c, (c ? "" : c.error().msg));
  return c->rangeSets;
}

Owner owner(const std::string& id, const std::string& ifName = "eth0", const std::string& host = "h1") {
  return Owner{id, ifName, host, "2024-01-01T00:00:00Z"};
}

struct Fixture {
  std::vector<RangeSet> rs;
  MemoryStore store;
  explicit Fixture(const std::string& ipam, bool shared = false) : rs(sets(ipam)), store(shared) {}

  Result<Allocation> add(const std::string& id, std::vector<IpAddr> req = {}, const std::string& ifName = "eth0") {
    Allocator a(rs, store, 42);
    return a.allocate(owner(id, ifName), req);
  }
  std::string addOne(const std::string& id) {
    auto r = add(id);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().msg));
    return r->ips[0].address.str();
  }
};

}  // namespace

TEST_CASE("allocator: sequential from the first address after the gateway") {
  Fixture f(R"({"subnet":"10.0.0.0/24"})");
  auto r = f.add("c1");
  REQUIRE(r);
  REQUIRE(r->ips.size() == 1);
  CHECK(r->ips[0].address.str() == "10.0.0.2/24");
  CHECK(r->ips[0].gateway == ip("10.0.0.1"));
  CHECK(r->attempts == 1);
  CHECK(f.addOne("c2") == "10.0.0.3/24");
  CHECK(f.addOne("c3") == "10.0.0.4/24");
}

TEST_CASE("allocator: the cursor makes freed addresses come back last, and wraps") {
  Fixture f(R"({"ranges":[[{"subnet":"10.0.0.0/29"}]]})");  // .1 gateway, .2-.6 usable
  for (const char* id : {"a", "b", "c", "d", "e"}) f.addOne(id);
  CHECK(f.store.size() == 5);
  auto full = f.add("f");
  REQUIRE_FALSE(full);
  CHECK(full.error().code == Code::PoolExhausted);
  CHECK(full.error().msg.find("10.0.0.0/29") != std::string::npos);
  REQUIRE(f.store.releaseByOwner("b", "eth0"));  // .3
  REQUIRE(f.store.releaseByOwner("d", "eth0"));  // .5
  // The cursor is at .6: wrap to the start, skip the gateway and .2, take .3, then .5.
  CHECK(f.addOne("g") == "10.0.0.3/29");
  CHECK(f.addOne("h") == "10.0.0.5/29");
}

TEST_CASE("allocator: cursor order: an address freed before the cursor is reused after the rest") {
  Fixture f(R"({"subnet":"10.0.0.0/24"})");
  f.addOne("a");  // .2
  f.addOne("b");  // .3
  REQUIRE(f.store.releaseByOwner("a", "eth0"));
  CHECK(f.addOne("c") == "10.0.0.4/24");
  f.store.setCursor(0, ip("10.0.0.254"));
  CHECK(f.addOne("d") == "10.0.0.2/24");  // wrapped: .2 is free again
}

TEST_CASE("allocator: a gateway inside the range is skipped wherever it is") {
  Fixture f(R"({"ranges":[[{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.10","rangeEnd":"10.0.0.13",
                             "gateway":"10.0.0.11"}]]})");
  CHECK(f.addOne("a") == "10.0.0.10/24");
  CHECK(f.addOne("b") == "10.0.0.12/24");
  CHECK(f.addOne("c") == "10.0.0.13/24");
  CHECK(f.add("d").error().code == Code::PoolExhausted);
  CHECK(f.rs[0].capacity() == 3);
}

TEST_CASE("allocator: several ranges in a set are used in order") {
  Fixture f(R"({"ranges":[[{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.253"},{"subnet":"10.0.1.0/24"}]]})");
  CHECK(f.addOne("a") == "10.0.0.253/24");
  CHECK(f.addOne("b") == "10.0.0.254/24");
  auto r = f.add("c");
  REQUIRE(r);
  CHECK(r->ips[0].address.str() == "10.0.1.2/24");
  CHECK(r->ips[0].gateway == ip("10.0.1.1"));
}

TEST_CASE("allocator: dual-stack gives one address per range set") {
  Fixture f(R"({"ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"fd00::/120"}]]})");
  auto r = f.add("a");
  REQUIRE(r);
  REQUIRE(r->ips.size() == 2);
  CHECK(r->ips[0].address.str() == "10.0.0.2/24");
  CHECK(r->ips[1].address.str() == "fd00::2/120");
  CHECK(r->ips[1].gateway == ip("fd00::1"));
  auto held = f.store.findByOwner("a", "eth0");
  REQUIRE(held);
  CHECK(held->size() == 2);
}

TEST_CASE("allocator: static addresses") {
  Fixture f(R"({"ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"fd00::/120"}]]})");
  auto r = f.add("a", {ip("10.0.0.50")});
  REQUIRE(r);
  CHECK(r->ips[0].address.str() == "10.0.0.50/24");
  CHECK(r->ips[1].address.str() == "fd00::2/120");  // dynamic in the other set
  // The cursor follows a static address, as in host-local.
  CHECK(f.addOne("b") == "10.0.0.51/24");

  auto taken = f.add("c", {ip("10.0.0.50")});
  REQUIRE_FALSE(taken);
  CHECK(taken.error().code == Code::AddressInUse);
  CHECK(taken.error().msg == "requested address 10.0.0.50 is in use by container a (eth0) on host h1");

  auto outside = f.add("c", {ip("10.0.9.9")});
  REQUIRE_FALSE(outside);
  CHECK(outside.error().code == Code::InvalidConfig);
  CHECK(outside.error().msg.starts_with("requested address 10.0.9.9 is outside every configured range"));

  auto gw = f.add("c", {ip("10.0.0.1")});
  REQUIRE_FALSE(gw);
  CHECK(gw.error().code == Code::InvalidConfig);
  CHECK(gw.error().msg.starts_with("requested address 10.0.0.1 is the gateway of range set 0"));

  auto two = f.add("c", {ip("10.0.0.60"), ip("10.0.0.61")});
  REQUIRE_FALSE(two);
  CHECK(two.error().msg.find("both fall in range set 0") != std::string::npos);

  auto both = f.add("c", {ip("10.0.0.60"), ip("fd00::60")});
  REQUIRE(both);
  CHECK(both->ips[1].address.str() == "fd00::60/120");
}

TEST_CASE("allocator: a failed allocation leaves nothing behind") {
  Fixture f(R"({"ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"fd00::/120"}]]})");
  f.store.put(ip("fd00::9"), owner("other", "eth0", "h2"));
  auto r = f.add("a", {ip("fd00::9")});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Code::AddressInUse);
  CHECK(r.error().msg.find("by container other (eth0) on host h2") != std::string::npos);
  CHECK(f.store.size() == 1);
  CHECK(f.store.findByOwner("a", "eth0")->empty());
}

TEST_CASE("allocator: says whether a failed allocation failed in a reservation, which may have been stored") {
  Fixture f(R"({"subnet":"10.0.0.0/24"})", /*shared=*/true);
  f.store.unreachable = true;  // fails reading the cursors: nothing was written
  Allocator a(f.rs, f.store, 42);
  REQUIRE_FALSE(a.allocate(owner("a"), {}));
  CHECK_FALSE(a.reserveFailed());

  struct LostAnswer : MemoryStore {  // stores the reservation, then reports a failure (the answer was lost)
    LostAnswer() : MemoryStore(true) {}
    Result<ReserveOutcome> reserve(std::span<const Claim> claims, const Owner& o) override {
      (void)MemoryStore::reserve(claims, o);
      return fail(Code::TryAgainLater, "no answer");
    }
  } lost;
  Allocator b(f.rs, lost, 42);
  auto r = b.allocate(owner("a"), {});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Code::TryAgainLater);
  CHECK(b.reserveFailed());
  CHECK(lost.size() == 1);  // what the failed ADD has to release
}

TEST_CASE("allocator: ADD for an attachment that holds a lease returns it") {
  Fixture f(R"({"ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"fd00::/120"}]]})");
  auto first = f.add("a");
  REQUIRE(first);
  auto again = f.add("a");
  REQUIRE(again);
  CHECK(again->existing);
  CHECK(again->ips == first->ips);
  CHECK(f.store.size() == 2);
  // Another interface of the same container is another attachment.
  auto eth1 = f.add("a", {}, "eth1");
  REQUIRE(eth1);
  CHECK_FALSE(eth1->existing);
  CHECK(eth1->ips[0].address.str() == "10.0.0.3/24");
  // Asking for a different static address than the one held is an error.
  auto other = f.add("a", {ip("10.0.0.77")});
  REQUIRE_FALSE(other);
  CHECK(other.error().msg.find("already holds 10.0.0.2, fd00::2, not the requested 10.0.0.77") != std::string::npos);
}

TEST_CASE("allocator: a local store probes one address after another past foreign leases") {
  Fixture f(R"({"subnet":"10.0.0.0/24"})");
  for (const char* a : {"10.0.0.2", "10.0.0.3", "10.0.0.4"}) f.store.put(ip(a), owner(std::string("x") + a));
  auto r = f.add("a");
  REQUIRE(r);
  CHECK(r->ips[0].address.str() == "10.0.0.5/24");
  CHECK(r->attempts == 4);
}

TEST_CASE("allocator: in a shared store, lost races spread the next candidates") {
  Fixture f(R"({"subnet":"10.0.0.0/24"})", /*shared=*/true);
  // A competing host takes whatever we are about to take, for the first three attempts.
  int stolen = 0;
  f.store.beforeReserve = [&](std::span<const Claim> claims) {
    if (stolen >= 3) return;
    f.store.put(claims[0].ip, owner("rival" + std::to_string(stolen), "eth0", "h2"));
    ++stolen;
  };
  auto r = f.add("a");
  REQUIRE(r);
  CHECK(r->attempts == 4);
  auto mine = r->ips[0].address.addr();
  CHECK(mine > ip("10.0.0.2"));
  CHECK(mine < ip("10.0.0.80"));  // within the first windows after the cursor
  CHECK(f.store.size() == 4);
  // The first two lost races are retried without listing the leases; the third lists them.
  CHECK(f.store.listCalls == 1);
}

TEST_CASE("allocator: in a shared store, a lost race costs one more reservation and no listing") {
  Fixture f(R"({"subnet":"10.0.0.0/24"})", /*shared=*/true);
  bool stolen = false;
  f.store.beforeReserve = [&](std::span<const Claim> claims) {
    if (!std::exchange(stolen, true)) f.store.put(claims[0].ip, owner("rival", "eth0", "h2"));
  };
  auto r = f.add("a");
  REQUIRE(r);
  CHECK(r->attempts == 2);
  CHECK(f.store.listCalls == 0);
  CHECK(r->ips[0].address.addr() > ip("10.0.0.2"));
  CHECK(r->ips[0].address.addr() <= ip("10.0.0.10"));  // one of the next 8 after the cursor
}

TEST_CASE("allocator: a shared store gives up with code 11 when it keeps losing") {
  Fixture f(R"({"subnet":"10.0.0.0/16"})", /*shared=*/true);
  int n = 0;
  f.store.beforeReserve = [&](std::span<const Claim> claims) {
    f.store.put(claims[0].ip, owner("rival" + std::to_string(n++), "eth0", "h2"));
  };
  auto r = f.add("a");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Code::TryAgainLater);
  CHECK(n == Allocator::kMaxSharedAttempts);
}

TEST_CASE("allocator: a shared store finds the last free address and then reports exhaustion") {
  Fixture f(R"({"ranges":[[{"subnet":"10.0.0.0/28"}]]})", /*shared=*/true);  // .2-.14: 13 addresses
  for (int i = 2; i <= 14; ++i)
    if (i != 9) f.store.put(IpAddr::v4((10u << 24) | uint32_t(i)), owner("x" + std::to_string(i)));
  auto r = f.add("a");
  REQUIRE(r);
  CHECK(r->ips[0].address.str() == "10.0.0.9/28");
  auto full = f.add("b");
  REQUIRE_FALSE(full);
  CHECK(full.error().code == Code::PoolExhausted);
}

TEST_CASE("allocator: many allocators on a shared store get distinct addresses") {
  Fixture f(R"({"subnet":"10.0.0.0/24"})", /*shared=*/true);
  std::set<IpAddr> seen;
  for (int i = 0; i < 60; ++i) {
    auto r = f.add("c" + std::to_string(i));
    REQUIRE(r);
    CHECK(seen.insert(r->ips[0].address.addr()).second);
  }
  CHECK(f.store.size() == 60);
}

TEST_CASE("lease ops: CHECK, GC scoped to one host, STATUS") {
  Fixture f(R"({"ranges":[[{"subnet":"10.0.0.0/29"}]]})");
  auto a = f.add("a");
  REQUIRE(a);
  f.store.put(ip("10.0.0.6"), owner("remote", "eth0", "h2"));

  cni::NetResult prev;
  prev.ips = a->ips;
  CHECK(checkLeases(f.rs, f.store, "a", "eth0", prev));
  CHECK(checkLeases(f.rs, f.store, "a", "eth0", std::nullopt));
  auto none = checkLeases(f.rs, f.store, "zz", "eth0", std::nullopt);
  REQUIRE_FALSE(none);
  CHECK(none.error().code == Code::UnknownContainer);
  prev.ips[0].address = *IpNet::parse("10.0.0.3/29");
  auto mismatch = checkLeases(f.rs, f.store, "a", "eth0", prev);
  REQUIRE_FALSE(mismatch);
  CHECK(mismatch.error().msg == "lease 10.0.0.2 of container a (eth0) is missing from prevResult.ips");

  CHECK(checkReady(f.rs, f.store));
  f.addOne("b");
  f.addOne("c");
  f.addOne("d");  // .3 .4 .5; .6 is remote: full
  auto st = checkReady(f.rs, f.store);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Code::NotReady);
  CHECK(st.error().msg.find("is exhausted: 5 of 5 addresses leased") != std::string::npos);

  std::vector<cni::Attachment> valid = {{"b", "eth0"}};
  auto n = collectGarbage(f.store, "h1", "net", "net", valid);
  REQUIRE(n);
  CHECK(*n == 3);  // a, c, d; never the remote host's lease
  CHECK(f.store.findLease(ip("10.0.0.6"))->has_value());
  CHECK(f.store.findLease(ip("10.0.0.3"))->has_value());
  CHECK(f.store.size() == 2);

  f.store.unreachable = true;
  auto down = checkReady(f.rs, f.store);
  REQUIRE_FALSE(down);
  CHECK(down.error().code == Code::NotReady);
}

TEST_CASE("GC frees only this host's leases of this network in a pool shared by networks") {
  auto rs = sets(R"({"subnet":"10.0.0.0/24"})");
  MemoryStore store(true);
  auto take = [&](const char* id, const char* host, const char* net) {
    Allocator a(rs, store, 1);
    auto r = a.allocate(Owner{id, "eth0", host, "2024-01-01T00:00:00Z", net}, {});
    REQUIRE(r);
  };
  take("a1", "h1", "neta");
  take("b1", "h1", "netb");
  take("a2", "h2", "neta");
  auto n = collectGarbage(store, "h1", "neta", "shared", {});
  REQUIRE(n);
  CHECK(*n == 1);  // a1 only: b1 is another network's, a2 another host's
  auto left = store.listLeases();
  REQUIRE(left);
  std::set<std::string> ids;
  for (const auto& l : *left) ids.insert(l.owner.containerId);
  CHECK(ids == std::set<std::string>{"b1", "a2"});
  // A lease that names no network (file store, older records) counts for the pool's own network.
  Allocator a(rs, store, 1);
  REQUIRE(a.allocate(Owner{"old", "eth0", "h1", "2024-01-01T00:00:00Z"}, {}));
  CHECK(*collectGarbage(store, "h1", "netb", "shared", {{"b1", "eth0"}}) == 0);
  CHECK(*collectGarbage(store, "h1", "shared", "shared", {}) == 1);
}
