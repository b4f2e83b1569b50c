// The root network namespace must look the same after all tests as before: every test works in its own
// namespaces. The snapshot is taken during static initialisation, before any test runs; this file sorts
// last so its test case runs last in the default (file) order. Leftover test namespaces are checked too.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fixture.hpp"

using namespace ovl::test;

namespace {

// Drops fields that change on their own (address lifetimes, statistics).
void scrub(rapidjson::Value& v) {
  if (v.IsObject()) {
    for (const char* k : {"valid_life_time", "preferred_life_time", "stats64", "stats"})
      v.RemoveMember(k);
    for (auto& m : v.GetObject()) scrub(m.value);
  } else if (v.IsArray()) {
    for (auto& e : v.GetArray()) scrub(e);
  }
}

std::string canonical(const std::string& cmd) {
  std::string out = sh(cmd);
  rapidjson::Document d;
  d.Parse(out.c_str());
  if (d.HasParseError()) return "unparsable: " + out;
  scrub(d);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  d.Accept(w);
  return buf.GetString();
}

struct Snapshot {
  std::string links, addrs, routes;
  static Snapshot take() {
    return {canonical("ip -j link show"), canonical("ip -j addr show"), canonical("ip -j route show table all")};
  }
};

const Snapshot& atStart() {
  static const Snapshot s = Snapshot::take();
  return s;
}
[[maybe_unused]] const Snapshot& takenBeforeMain = atStart();

}  // namespace

TEST_CASE("zz root namespace unchanged") {
  Snapshot now = Snapshot::take();
  CHECK(now.links == atStart().links);
  CHECK(now.addrs == atStart().addrs);
  CHECK(now.routes == atStart().routes);
  std::string leftover = sh("ip netns list | grep '^ovlnt-' || true");
  CHECK(leftover == "");
}
