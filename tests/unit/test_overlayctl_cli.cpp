#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "overlayctl/cli.hpp"

using namespace ovl;
using namespace ovl::ctl;

namespace {

Result<CommandLine> hoist(std::vector<std::string> args) {
  std::vector<char*> p;
  for (auto& a : args) p.push_back(a.data());
  return hoistGlobals(std::span<char* const>(p.data(), p.size()));
}

using W = std::vector<std::string>;

}  // namespace

TEST_CASE("overlayctl: global options before the command move after it") {
  CHECK(hoist({"--store", "consul://h:8500", "network", "ls"})->words == W{"network", "ls", "--store", "consul://h:8500"});
  CHECK(hoist({"--json", "--store=consul://h:8500", "hosts"})->words == W{"hosts", "--json", "--store=consul://h:8500"});
  CHECK(hoist({"network", "ls", "--json"})->words == W{"network", "ls", "--json"});
  // Before a "--", so that they stay options.
  CHECK(hoist({"--json", "network", "inspect", "--", "-odd"})->words == W{"network", "inspect", "--json", "--", "-odd"});
}

TEST_CASE("overlayctl: --help and --version before the command, no command") {
  auto h = hoist({"--help"});
  CHECK((h->help && h->words.empty()));
  auto v = hoist({"--version"});
  CHECK((v->version && !v->help));
  CHECK(hoist({"-h", "network"})->help);
  auto none = hoist({"--json"});
  CHECK((none->words.empty() && !none->help));
}

TEST_CASE("overlayctl: bad global options are usage errors") {
  auto r = hoist({"--bogus", "network", "ls"});
  REQUIRE_FALSE(r);
  CHECK(isUsage(r.error()));
  CHECK(r.error().msg.find("'--bogus'") != std::string::npos);
  auto s = hoist({"--store"});
  REQUIRE_FALSE(s);
  CHECK(s.error().msg.find("needs a value") != std::string::npos);
}
