// The files a host reads. Its identity (common/model/identity): a machine ID that is missing or empty is
// refused, naming the file, rather than claiming the host name with an identity the host's other programs do
// not share. Deeply nested JSON in the node config and in the host's memory of its records (issue 14): refused
// or skipped, naming the file, before any recursive parser sees it.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "kv/node_config.hpp"
#include "model/identity.hpp"
#include "model/memory.hpp"

using namespace ovl;

namespace {

const std::string kBomb = std::string(180000, '[') + std::string(180000, ']');  // about 360 KB

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/ovl-hostfiles-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path + "/" + name) << text;
    return path + "/" + name;
  }
};

void put(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

TEST_CASE("identity: the machine ID file's first line, with the network namespace") {
  TempDir d;
  auto id = model::readMachineId(d.write("machine-id", "0123456789abcdef0123456789abcdef  \nignored\n"));
  REQUIRE(id);
  CHECK(id->starts_with("0123456789abcdef0123456789abcdef@ns"));
}

TEST_CASE("identity: a missing or empty machine ID is an error naming the file") {
  TempDir d;
  auto missing = model::readMachineId(d.path + "/absent");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Code::Io);
  CHECK(missing.error().msg.find(d.path + "/absent") != std::string::npos);
  for (const char* text : {"", "\n", "  \r\n"}) {
    auto empty = model::readMachineId(d.write("machine-id", text));
    REQUIRE_FALSE(empty);
    CHECK(empty.error().msg.find(d.path + "/machine-id") != std::string::npos);
    CHECK(empty.error().msg.find("empty") != std::string::npos);
  }
}

TEST_CASE("node config: a deeply nested file is refused naming the file") {
  for (const std::string& text : {kBomb, "{\"store\": \"consul://198.51.100.10:8500\", \"consul\": " + kBomb + "}"}) {
    auto n = kv::parseNodeConfig(text, "/etc/cni/overlay-node.json");
    REQUIRE_FALSE(n);
    CHECK(n.error().code == Code::Decode);
    CHECK(n.error().msg.find("/etc/cni/overlay-node.json") != std::string::npos);
    CHECK(n.error().msg.find("nested more than 64 levels") != std::string::npos);
  }
}

TEST_CASE("host memory: deeply nested files are skipped, the others still read") {
  TempDir d;
  auto mem = model::HostMemory::open(d.path);
  REQUIRE(mem);
  model::Attachment att{"net", "h1", "c1", "eth0", "02:00:00:00:00:01", {"10.44.0.2/24"}, {}, 0};
  model::Member member{"h1", *IpAddr::parse("198.51.100.11"), 4789, 4242, 1450, 1500};
  REQUIRE(mem->remember(model::RememberedAttachment{att, member, std::nullopt}));
  model::Lease lease{"c1", "eth0", "h1", "net", "2024-01-01T00:00:00Z"};
  REQUIRE(mem->remember(model::RememberedLeases{"net", lease, {*IpAddr::parse("10.44.0.2")}}));
  REQUIRE(mem->remember(model::PendingWithdrawal{"net", "c2", "eth0"}));

  // Whole files, and a record nested inside an otherwise valid file (each record is its own JSON text).
  put(mem->dir() + "/att-bomb.json", kBomb);
  put(mem->dir() + "/att-inner.json", "{\"attachment\": \"" + kBomb + "\", \"member\": \"{}\"}");
  put(mem->dir() + "/lease-bomb.json", kBomb);
  put(mem->dir() + "/lease-inner.json", "{\"pool\": \"net\", \"lease\": \"" + kBomb + "\", \"ips\": \"[]\"}");
  put(mem->dir() + "/withdraw-bomb.json", kBomb);

  auto atts = mem->attachments();
  REQUIRE(atts.size() == 1);
  CHECK(atts[0].attachment.containerId == "c1");
  auto leases = mem->leases();
  REQUIRE(leases.size() == 1);
  CHECK(leases[0].lease == lease);
  auto pending = mem->withdrawals();
  REQUIRE(pending.size() == 1);
  CHECK(pending[0] == model::PendingWithdrawal{"net", "c2", "eth0"});
}
