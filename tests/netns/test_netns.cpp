#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "fixture.hpp"
#include "nl/link.hpp"
#include "ns/netns.hpp"

using namespace ovl;
using namespace ovl::test;

TEST_CASE("Netns::open accepts /run/netns, /proc/PID/ns/net and /proc/PID/fd/N") {
  TestNetns t;
  auto self = OKV(ns::Netns::current());
  CHECK_FALSE(t.ns.sameAs(self));

  auto byProcNs = OKV(ns::Netns::open("/proc/" + std::to_string(getpid()) + "/ns/net"));
  CHECK(byProcNs.sameAs(self));

  auto byFd = OKV(ns::Netns::open("/proc/self/fd/" + std::to_string(t.ns.fd())));
  CHECK(byFd.sameAs(t.ns));
  CHECK(byFd.path() == "/proc/self/fd/" + std::to_string(t.ns.fd()));
}

TEST_CASE("Netns::open rejects missing paths and files that are not network namespaces") {
  auto missing = ns::Netns::open("/run/netns/ovlnt-does-not-exist");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Code::InvalidEnv);
  CHECK(missing.error().sysErrno == ENOENT);
  CHECK(missing.error().notFound());
  CHECK(missing.error().msg.find("CNI_NETNS '/run/netns/ovlnt-does-not-exist'") == 0);

  auto file = ns::Netns::open("/proc/self/status");
  REQUIRE_FALSE(file);
  CHECK(file.error().code == Code::InvalidEnv);
  CHECK(file.error().msg == "CNI_NETNS '/proc/self/status' is not a network namespace");

  // nsfs, but a UTS namespace: only NS_GET_NSTYPE tells it apart.
  auto uts = ns::Netns::open("/proc/self/ns/uts");
  REQUIRE_FALSE(uts);
  CHECK(uts.error().code == Code::InvalidEnv);
  CHECK(uts.error().msg == "CNI_NETNS '/proc/self/ns/uts' is not a network namespace");

  auto empty = ns::Netns::open("");
  REQUIRE_FALSE(empty);
  CHECK(empty.error().code == Code::InvalidEnv);
}

TEST_CASE("refuseCurrent rejects the plugin's own namespace only") {
  TestNetns t;
  auto self = OKV(ns::Netns::open("/proc/self/ns/net"));
  auto r = ns::refuseCurrent(self);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Code::InvalidEnv);
  CHECK(r.error().msg == "CNI_NETNS '/proc/self/ns/net' is the plugin's own network namespace");
  REQUIRE_OK(ns::refuseCurrent(t.ns));
}

TEST_CASE("ScopedNetns enters the target and returns to the original") {
  TestNetns t;
  auto before = OKV(ns::Netns::current());
  {
    auto inside = OKV(ns::ScopedNetns::enter(t.ns));
    auto now = OKV(ns::Netns::current());
    CHECK(now.sameAs(t.ns));
    CHECK_FALSE(now.sameAs(before));
    // A moved guard restores exactly once, when the new owner goes away.
    auto moved = std::move(inside);
    CHECK(OKV(ns::Netns::current()).sameAs(t.ns));
    // A socket opened here lives in t.ns: the test namespace has only "lo".
    auto sock = OKV(nl::Socket::open());
    auto links = OKV(nl::dumpLinks(sock));
    REQUIRE(links.size() == 1);
    CHECK(links[0].name == "lo");
  }
  CHECK(OKV(ns::Netns::current()).sameAs(before));
}

TEST_CASE("ScopedNetns::enter fails cleanly on a non-namespace fd") {
  auto before = OKV(ns::Netns::current());
  int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  auto r = ns::ScopedNetns::enterFd(fd, "/proc/self/status");
  ::close(fd);
  REQUIRE_FALSE(r);
  CHECK(r.error().sysErrno == EINVAL);
  CHECK(OKV(ns::Netns::current()).sameAs(before));
}

TEST_CASE("Socket::openInNetns binds the socket inside and leaves the thread where it was") {
  TestNetns a, b;
  auto before = OKV(ns::Netns::current());
  addTestLink(a, "only-in-a");
  auto sa = OKV(nl::Socket::openInNetns(a.ns.fd()));
  CHECK(OKV(ns::Netns::current()).sameAs(before));
  auto sb = OKV(nl::Socket::openInNetns(b.ns.fd()));
  CHECK(OKV(nl::findLink(sa, "only-in-a")).has_value());
  CHECK_FALSE(OKV(nl::findLink(sb, "only-in-a")).has_value());

  auto bad = nl::Socket::openInNetns(-1);
  REQUIRE_FALSE(bad);
  CHECK(OKV(ns::Netns::current()).sameAs(before));
}
