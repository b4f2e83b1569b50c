// The file store: host-local's on-disk layout, the owner index and its rebuild.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <fstream>
#include <sstream>

#include "cni/config.hpp"
#include "ipam/allocator.hpp"
#include "ipam/config.hpp"
#include "ipam/file_store.hpp"

using namespace ovl;
using namespace ovl::ipam;
namespace stdfs = std::filesystem;

namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/ipam-fs-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    path = tmpl;
  }
  ~TempDir() { stdfs::remove_all(path); }
};

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<RangeSet> sets(const std::string& ipam) {
  auto n = cni::parseNetConf(R"({"cniVersion":"1.0.0","name":"n","ipam":)" + ipam + "}");
  REQUIRE(n);
  auto c = parseIpamConf(*n, kv::NodeConfig{}, Need::Ranges);
  REQUIRE(c);
  return c->rangeSets;
}

Result<Allocation> add(const std::vector<RangeSet>& rs, const std::string& dir, const std::string& id,
                       std::vector<IpAddr> req = {}) {
  auto store = FileStore::open(dir, "net1", "h1");
  REQUIRE(store);
  Allocator a(rs, **store, 1);
  return a.allocate(Owner{id, "eth0", "h1", "t"}, req);
}

Result<void> del(const std::string& dir, const std::string& id) {
  auto store = FileStore::open(dir, "net1", "h1");
  REQUIRE(store);
  return (*store)->releaseByOwner(id, "eth0");
}

}  // namespace

TEST_CASE("file store: host-local's files, plus an owner index") {
  TempDir t;
  auto rs = sets(R"({"ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"fd00::/120"}]]})");
  auto r = add(rs, t.path, "c1");
  REQUIRE(r);
  std::string d = t.path + "/net1";
  CHECK(slurp(d + "/10.0.0.2") == "c1\r\neth0");
  CHECK(slurp(d + "/fd00::2") == "c1\r\neth0");
  CHECK(slurp(d + "/last_reserved_ip.0") == "10.0.0.2");
  CHECK(slurp(d + "/last_reserved_ip.1") == "fd00::2");
  CHECK(stdfs::exists(d + "/lock"));
  CHECK(slurp(d + "/.owners/c1@eth0") == "# overlay-ipam owner index v1\nc1\neth0\n10.0.0.2\nfd00::2\n");
  struct stat st {};
  REQUIRE(::stat(d.c_str(), &st) == 0);
  CHECK(st.st_mtim.tv_nsec == FileStore::kCleanNsec);

  auto again = add(rs, t.path, "c1");
  REQUIRE(again);
  CHECK(again->existing);
  CHECK(add(rs, t.path, "c2")->ips[0].address.str() == "10.0.0.3/24");

  REQUIRE(del(t.path, "c1"));
  CHECK_FALSE(stdfs::exists(d + "/10.0.0.2"));
  CHECK_FALSE(stdfs::exists(d + "/fd00::2"));
  CHECK_FALSE(stdfs::exists(d + "/.owners/c1@eth0"));
  CHECK(del(t.path, "c1"));  // idempotent
  CHECK(stdfs::exists(d + "/10.0.0.3"));
}

TEST_CASE("file store: leases written by host-local are honoured and indexed once") {
  TempDir t;
  std::string d = t.path + "/net1";
  stdfs::create_directories(d);
  // As host-local leaves them: "<id>\r\n<ifname>", the cursor, and no index.
  std::ofstream(d + "/10.0.0.2") << "hl1\r\neth0";
  std::ofstream(d + "/10.0.0.3") << "hl2\r\neth0";
  std::ofstream(d + "/10.0.0.9") << "hl3\r\neth0";
  std::ofstream(d + "/last_reserved_ip.0") << "10.0.0.3";
  auto rs = sets(R"({"subnet":"10.0.0.0/24"})");
  auto r = add(rs, t.path, "c1");
  REQUIRE(r);
  CHECK(r->ips[0].address.str() == "10.0.0.4/24");
  CHECK(slurp(d + "/.owners/hl3@eth0").ends_with("\n10.0.0.9\n"));

  // An ADD repeated for host-local's attachment returns its lease.
  auto hl = add(rs, t.path, "hl2");
  REQUIRE(hl);
  CHECK(hl->existing);
  CHECK(hl->ips[0].address.str() == "10.0.0.3/24");

  // host-local adds and removes a lease behind our back: the directory's mtime moves, the index is rebuilt.
  std::ofstream(d + "/10.0.0.5") << "hl4\r\neth0";
  stdfs::remove(d + "/10.0.0.9");
  auto hl4 = add(rs, t.path, "hl4");
  REQUIRE(hl4);
  CHECK(hl4->existing);
  CHECK_FALSE(stdfs::exists(d + "/.owners/hl3@eth0"));
  REQUIRE(del(t.path, "hl4"));
  CHECK_FALSE(stdfs::exists(d + "/10.0.0.5"));

  // A static address held by host-local's attachment names it.
  auto taken = add(rs, t.path, "c9", {ip("10.0.0.2")});
  REQUIRE_FALSE(taken);
  CHECK(taken.error().code == Code::AddressInUse);
  CHECK(taken.error().msg == "requested address 10.0.0.2 is in use by container hl1 (eth0) on host h1");
}

TEST_CASE("file store: a legacy lease file (container ID alone) is released by ID") {
  TempDir t;
  std::string d = t.path + "/net1";
  stdfs::create_directories(d);
  std::ofstream(d + "/10.0.0.7") << "old1";
  REQUIRE(del(t.path, "old1"));
  CHECK_FALSE(stdfs::exists(d + "/10.0.0.7"));
}

TEST_CASE("file store: GC and listing") {
  TempDir t;
  auto rs = sets(R"({"subnet":"10.0.0.0/24"})");
  for (const char* id : {"a", "b", "c"}) REQUIRE(add(rs, t.path, id));
  auto store = FileStore::open(t.path, "net1", "h1");
  REQUIRE(store);
  auto leases = (*store)->listLeases();
  REQUIRE(leases);
  CHECK(leases->size() == 3);
  CHECK((*leases)[0].owner.host == "h1");
  CHECK_FALSE((*leases)[0].owner.time.empty());
  std::vector<Lease> stale;
  for (const auto& l : *leases)
    if (l.owner.containerId != "b") stale.push_back(l);
  REQUIRE((*store)->releaseLeases(stale));
  CHECK((*store)->listLeasedIps()->size() == 1);
  CHECK((*store)->findByOwner("a", "eth0")->empty());
  CHECK((*store)->findByOwner("b", "eth0")->size() == 1);
  std::string d = t.path + "/net1";
  CHECK_FALSE(stdfs::exists(d + "/.owners/a@eth0"));
}

TEST_CASE("file store: the owner index names the lease's network, also across a rebuild") {
  TempDir t;
  auto rs = sets(R"({"subnet":"10.0.0.0/24"})");
  auto take = [&](const char* id, const char* net) {
    auto store = FileStore::open(t.path, "shared", "h1");
    REQUIRE(store);
    Allocator a(rs, **store, 1);
    REQUIRE(a.allocate(Owner{id, "eth0", "h1", "t", net}, {}));
  };
  take("a1", "neta");
  take("b1", "netb");
  auto networks = [&] {
    auto store = FileStore::open(t.path, "shared", "h1");
    REQUIRE(store);
    auto leases = (*store)->listLeases();
    REQUIRE(leases);
    std::map<std::string, std::string> out;
    for (const auto& l : *leases) out[l.owner.containerId] = l.owner.network;
    return out;
  };
  CHECK(networks() == std::map<std::string, std::string>{{"a1", "neta"}, {"b1", "netb"}});
  CHECK(slurp(t.path + "/shared/.owners/a1@eth0") == "# overlay-ipam owner index v1\na1\neth0\nnetwork neta\n10.0.0.2\n");
  // host-local (or a crash) touches the pool: the index is rebuilt from the lease files and keeps the networks.
  std::ofstream(t.path + "/shared/10.0.0.9") << "c9\r\neth0";
  CHECK(networks() == std::map<std::string, std::string>{{"a1", "neta"}, {"b1", "netb"}, {"c9", ""}});
}
