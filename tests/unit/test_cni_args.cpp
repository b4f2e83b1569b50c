#include <doctest/doctest.h>

#include "cni/args.hpp"

using namespace ovl;
using namespace ovl::cni;

TEST_CASE("CNI_ARGS in any order, with K8S keys, IP and MAC") {
  auto a = parseCniArgs("K8S_POD_UID=u1;IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.0.0.5,10.0.0.6;MAC=02:00:00:00:00:50");
  REQUIRE(a);
  CHECK(a->get("K8S_POD_NAME") == "web");
  CHECK(a->get("IP") == "10.0.0.5,10.0.0.6");
  CHECK(a->get("MAC") == "02:00:00:00:00:50");
  CHECK_FALSE(a->get("K8S_POD_NAMESPACE"));
}

TEST_CASE("CNI_ARGS empty, trailing and doubled separators") {
  CHECK(parseCniArgs("")->values.empty());
  CHECK(parseCniArgs("IP=10.0.0.5;")->values.size() == 1);
  CHECK(parseCniArgs("IP=10.0.0.5;;MAC=02:00:00:00:00:01")->values.size() == 2);
  CHECK(parseCniArgs("IP=")->get("IP") == "");
}

TEST_CASE("unknown CNI_ARGS keys are an error unless IgnoreUnknown") {
  auto e = parseCniArgs("FOO=bar");
  REQUIRE_FALSE(e);
  CHECK(e.error().code == Code::InvalidEnv);
  CHECK(e.error().msg.find("'FOO'") != std::string::npos);
  CHECK(parseCniArgs("FOO=bar;IgnoreUnknown=true"));
  CHECK(parseCniArgs("FOO=bar;IgnoreUnknown=TRUE"));
  CHECK_FALSE(parseCniArgs("FOO=bar;IgnoreUnknown=0"));
  std::string_view extra[] = {"FOO"};
  CHECK(parseCniArgs("FOO=bar", extra));
  // keys are case sensitive
  CHECK_FALSE(parseCniArgs("ip=10.0.0.5"));
}

TEST_CASE("malformed CNI_ARGS entries are named") {
  auto e = parseCniArgs("IP10.0.0.5");
  REQUIRE_FALSE(e);
  CHECK(e.error().msg.find("'IP10.0.0.5'") != std::string::npos);
  CHECK_FALSE(parseCniArgs("=x"));
  auto d = parseCniArgs("IP=1;IP=2");
  REQUIRE_FALSE(d);
  CHECK(d.error().msg.find("twice") != std::string::npos);
}
