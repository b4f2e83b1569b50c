#include <doctest/doctest.h>

#include <map>
#include <vector>

#include "cni/by_hand.hpp"
#include "util/build_version.hpp"

using namespace ovl;
using namespace ovl::cni;

namespace {

std::optional<HandOutcome> run(std::map<std::string, std::string, std::less<>> env, std::vector<std::string_view> args) {
  Plugin p;
  p.name = "overlay";
  p.summary = "Attaches containers.";
  p.moreUsage = {"overlay watch"};
  return runByHand(p, [&](std::string_view k) -> std::optional<std::string> {
    auto it = env.find(k);
    if (it == env.end()) return std::nullopt;
    return it->second;
  }, args);
}

}  // namespace

TEST_CASE("by hand: --help and -h print the usage on stdout, exit 0") {
  for (std::string_view a : {"--help", "-h"}) {
    auto o = run({}, {a});
    REQUIRE(o);
    CHECK(o->exitCode == 0);
    CHECK(o->out.starts_with("Usage: overlay [--help | --version]\n       overlay watch\n"));
    CHECK(o->out.find("Attaches containers.") != std::string::npos);
    CHECK(o->out.find("CNI_COMMAND") != std::string::npos);
    CHECK(o->err.empty());
  }
}

TEST_CASE("by hand: --version prints the build version and the CNI versions") {
  auto o = run({}, {"--version"});
  REQUIRE(o);
  CHECK(o->exitCode == 0);
  CHECK(o->out == "overlay " + std::string(buildVersion()) + " (CNI 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0)\n");
  CHECK(!buildVersion().empty());
}

TEST_CASE("by hand: an unknown argument is one line on stderr, exit 2") {
  auto o = run({}, {"--bogus"});
  REQUIRE(o);
  CHECK(o->exitCode == 2);
  CHECK(o->out.empty());
  CHECK(o->err == "overlay: unknown argument '--bogus' (CNI_COMMAND is not set; try --help)\n");
}

TEST_CASE("by hand: with CNI_COMMAND set, or without arguments, the CNI protocol runs") {
  CHECK_FALSE(run({{"CNI_COMMAND", "VERSION"}}, {"--help"}));
  CHECK_FALSE(run({{"CNI_COMMAND", "ADD"}}, {"--version"}));
  CHECK_FALSE(run({}, {}));
  CHECK(run({{"CNI_COMMAND", ""}}, {"--help"}));  // set but empty is not set
}
