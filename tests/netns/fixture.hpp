// Test helpers: throwaway network namespaces, shell helpers and Result checks.
#pragma once

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <string>

#include "nl/socket.hpp"
#include "ns/netns.hpp"
#include "util/unique_fd.hpp"

namespace ovl::test {

// Fails the test case with the error message when expr (a Result) is an error.
#define REQUIRE_OK(expr)                                                                       \
  do {                                                                                         \
    auto _ovl_r = (expr);                                                                      \
    if (!_ovl_r) FAIL(#expr << " failed: " << _ovl_r.error().msg);                             \
  } while (0)
// Same, and yields the value.
#define OKV(expr)                                                                              \
  ({                                                                                           \
    auto _ovl_r = (expr);                                                                      \
    if (!_ovl_r) FAIL(#expr << " failed: " << _ovl_r.error().msg);                             \
    std::move(*_ovl_r);                                                                        \
  })

// Runs a shell command; returns its stdout. exitCode receives the exit status when given.
std::string sh(const std::string& cmd, int* exitCode = nullptr);
// Runs a shell command and requires exit status 0.
void run(const std::string& cmd);
// Parses the JSON printed by cmd (e.g. "ip -j ..."); fails the test on bad JSON.
rapidjson::Document shJson(const std::string& cmd);

// Walks parsed JSON by a dotted path of member names and array indexes ("0.linkinfo.info_kind"); fails the
// test when a component is missing or the value has another type.
const rapidjson::Value& jget(const rapidjson::Value& root, const std::string& path);
std::string jstr(const rapidjson::Value& root, const std::string& path);
int64_t jint(const rapidjson::Value& root, const std::string& path);
bool jbool(const rapidjson::Value& root, const std::string& path);

// A named namespace ("ip netns add ovlnt-<pid>-<n>") deleted again on destruction.
class NetnsName {
 public:
  NetnsName();
  ~NetnsName();
  NetnsName(const NetnsName&) = delete;
  NetnsName& operator=(const NetnsName&) = delete;
  const std::string& name() const { return name_; }
  std::string path() const { return "/run/netns/" + name_; }

 private:
  std::string name_;
};

// A fresh namespace with an open handle and a netlink socket bound inside it.
struct TestNetns {
  NetnsName nsName;
  ns::Netns ns;
  nl::Socket sock;
  TestNetns();
  const std::string& name() const { return nsName.name(); }
  // "ip -n NAME " prefix for iproute2 commands.
  std::string ip() const { return "ip -n " + name() + " "; }
};

// A plain link for tests (this kernel may lack "dummy"): a veth pair NAME / NAME-p inside t, with the
// NAME-p end up so NAME gets carrier once it is set up. NAME itself stays down.
void addTestLink(const TestNetns& t, const std::string& name);

// A packet socket (type SOCK_RAW or SOCK_DGRAM) opened inside t, bound to `ifindex` for `protocol` (ETH_P_*,
// host order), whose reads give up after 5 s: a frame that never comes fails the test instead of hanging it.
UniqueFd openTap(const TestNetns& t, int ifindex, int type, uint16_t protocol);

}  // namespace ovl::test
