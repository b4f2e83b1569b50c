#include "fixture.hpp"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <memory>

namespace ovl::test {
namespace {
int counter = 0;

ns::Netns openNs(const std::string& path) {
  auto r = ns::Netns::open(path);
  if (!r) FAIL("opening " << path << ": " << r.error().msg);
  return std::move(*r);
}

nl::Socket openSock(const ns::Netns& n) {
  auto r = nl::Socket::openInNetns(n.fd());
  if (!r) FAIL("socket in " << n.path() << ": " << r.error().msg);
  return std::move(*r);
}
}  // namespace

std::string sh(const std::string& cmd, int* exitCode) {
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  if (!p) FAIL("popen " << cmd);
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p.get())) > 0) out.append(buf.data(), n);
  int st = pclose(p.release());
  if (exitCode) *exitCode = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

void run(const std::string& cmd) {
  int rc = 0;
  std::string out = sh(cmd + " 2>&1", &rc);
  if (rc != 0) FAIL("command failed (" << rc << "): " << cmd << "\n" << out);
}

rapidjson::Document shJson(const std::string& cmd) {
  std::string out = sh(cmd);
  rapidjson::Document d;
  d.Parse(out.c_str());
  if (d.HasParseError()) FAIL("bad JSON from " << cmd << ":\n" << out);
  return d;
}

const rapidjson::Value& jget(const rapidjson::Value& root, const std::string& path) {
  const rapidjson::Value* v = &root;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t dot = path.find('.', pos);
    std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    if (!part.empty() && std::isdigit(static_cast<unsigned char>(part[0]))) {
      size_t i = std::stoul(part);
      if (!v->IsArray() || i >= v->Size()) FAIL("JSON path " << path << ": no element " << part);
      v = &(*v)[rapidjson::SizeType(i)];
    } else {
      if (!v->IsObject() || !v->HasMember(part.c_str())) FAIL("JSON path " << path << ": no member " << part);
      v = &(*v)[part.c_str()];
    }
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  return *v;
}

std::string jstr(const rapidjson::Value& root, const std::string& path) {
  auto& v = jget(root, path);
  if (!v.IsString()) FAIL("JSON path " << path << " is not a string");
  return v.GetString();
}

int64_t jint(const rapidjson::Value& root, const std::string& path) {
  auto& v = jget(root, path);
  if (!v.IsInt64()) FAIL("JSON path " << path << " is not an integer");
  return v.GetInt64();
}

bool jbool(const rapidjson::Value& root, const std::string& path) {
  auto& v = jget(root, path);
  if (!v.IsBool()) FAIL("JSON path " << path << " is not a boolean");
  return v.GetBool();
}

NetnsName::NetnsName() : name_("ovlnt-" + std::to_string(getpid()) + "-" + std::to_string(++counter)) {
  run("ip netns add " + name_);
}

NetnsName::~NetnsName() {
  if (std::system(("ip netns del " + name_ + " 2>/dev/null").c_str()) != 0) {
    MESSAGE("could not delete netns " << name_);
  }
}

void addTestLink(const TestNetns& t, const std::string& name) {
  run(t.ip() + "link add " + name + " type veth peer name " + name + "-p");
  run(t.ip() + "link set " + name + "-p up");
}

TestNetns::TestNetns() : ns(openNs(nsName.path())), sock(openSock(ns)) {}

UniqueFd openTap(const TestNetns& t, int ifindex, int type, uint16_t protocol) {
  auto in = ns::ScopedNetns::enter(t.ns);
  REQUIRE(in);
  UniqueFd fd(::socket(AF_PACKET, type | SOCK_CLOEXEC, htons(protocol)));
  REQUIRE(fd);
  const timeval patience{5, 0};
  REQUIRE(::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience) == 0);
  sockaddr_ll at{};
  at.sll_family = AF_PACKET;
  at.sll_protocol = htons(protocol);
  at.sll_ifindex = ifindex;
  REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&at), sizeof at) == 0);
  return fd;
}

}  // namespace ovl::test
