// How the watcher's loop takes in what the answering thread installed (overlay/miss_answerer.hpp,
// mergeInstalls): the installs are in the kernel, so they join what a diff starts from; those read from a
// listing newer than the one the loop applies also join what it ends with.
#include <doctest/doctest.h>

#include <set>
#include <vector>

#include "overlay/miss_answerer.hpp"

using namespace ovl;
using overlay::mergeInstalls;
using overlay::detail::AnswererInstall;

namespace {

vxlan::Peer peer(const char* ip, const char* mac, const char* vtep) {
  return {*IpAddr::parse(ip), *MacAddr::parse(mac), *IpAddr::parse(vtep)};
}

const vxlan::Peer a = peer("10.1.0.2", "02:00:00:00:00:02", "198.51.100.2");
const vxlan::Peer b = peer("10.1.0.3", "02:00:00:00:00:03", "198.51.100.3");
const vxlan::Peer bMoved = peer("10.1.0.3", "02:00:00:00:00:13", "198.51.100.4");  // the address reused elsewhere

}  // namespace

TEST_CASE("answerer installs: a listing as new as the install decides, and its diff removes what left") {
  std::vector<vxlan::Peer> before{a}, after{a};  // the listing no longer (or never) has b
  mergeInstalls({{b, 40}}, 40, before, after);
  CHECK(before == std::vector<vxlan::Peer>{a, b});  // so the diff removes b from the kernel
  CHECK(after == std::vector<vxlan::Peer>{a});

  before = {a}, after = {a, b};  // the listing has it: the diff finds nothing to do for b
  mergeInstalls({{b, 40}}, 45, before, after);
  CHECK(before == std::vector<vxlan::Peer>{a, b});
  CHECK(after == std::vector<vxlan::Peer>{a, b});
}

TEST_CASE("answerer installs: an older listing in hand does not take back what a newer one brought") {
  std::vector<vxlan::Peer> before{a}, after{a};
  mergeInstalls({{b, 41}}, 40, before, after);
  CHECK(before == std::vector<vxlan::Peer>{a, b});
  CHECK(after == std::vector<vxlan::Peer>{a, b});

  // The older listing has the address at its former container: the install's entry stays.
  before = {a, b}, after = {a, b};
  mergeInstalls({{bMoved, 41}}, 40, before, after);
  CHECK(before == std::vector<vxlan::Peer>{a, bMoved});
  CHECK(after == std::vector<vxlan::Peer>{a, bMoved});
}

TEST_CASE("answerer installs: a cache of unknown age keeps every install, a later one of an address wins") {
  std::vector<vxlan::Peer> before{a}, after{a};
  mergeInstalls({{b, 41}, {bMoved, 42}}, 0, before, after);
  CHECK(before == std::vector<vxlan::Peer>{a, bMoved});
  CHECK(after == std::vector<vxlan::Peer>{a, bMoved});

  // Nothing installed: nothing changes.
  before = {a}, after = {b};
  mergeInstalls({}, 0, before, after);
  CHECK(before == std::vector<vxlan::Peer>{a});
  CHECK(after == std::vector<vxlan::Peer>{b});
}

TEST_CASE("answerer installs: on a host the loop does not know as a member yet, kept until it does") {
  // The answerer joined 198.51.100.4 (bMoved's) from the members it read; the loop knows .2 and .3 only, so
  // the listing it applies, newer or not, has no entry for an address there: the install stays.
  const std::set<IpAddr> known{*IpAddr::parse("198.51.100.2"), *IpAddr::parse("198.51.100.3")};
  std::vector<vxlan::Peer> before{a}, after{a};
  mergeInstalls({{bMoved, 40}}, 45, before, after, &known);
  CHECK(before == std::vector<vxlan::Peer>{a, bMoved});
  CHECK(after == std::vector<vxlan::Peer>{a, bMoved});

  // On a known member, a newer listing still decides.
  before = {a}, after = {a};
  mergeInstalls({{b, 40}}, 45, before, after, &known);
  CHECK(before == std::vector<vxlan::Peer>{a, b});
  CHECK(after == std::vector<vxlan::Peer>{a});
}
