// overlayctl's snapshot of the store: every record kind, the leases of a network in a shared pool, and
// malformed records reported, never fatal.
#include <doctest/doctest.h>

#include "overlayctl/snapshot.hpp"

using namespace ovl;
using namespace ovl::ctl;

TEST_CASE("overlayctl snapshot: one listing, every record kind") {
  auto kv = [](std::string k, std::string v) { return kv::KvPair{"P/" + k, std::move(v), 1, 7, 0}; };
  std::vector<kv::KvPair> pairs = {
      kv("networks/over/config", R"({"vni":4096,"scope":"global","subnets":[{"subnet":"10.0.0.0/24"}]})"),
      kv("networks/over/members/h1", R"({"host":"h1","vtep":"198.51.100.11","port":4789,"vni":4096})"),
      kv("networks/over/members/h2", R"({"port":4789})"),  // no vtep: a warning
      kv("attachments/over/h1/c1/eth0", R"({"mac":"02:00:00:00:00:01","ips":["10.0.0.2/24"],"names":["web"],"time":5})"),
      kv("ipam/shared/leases/10.0.0.2", R"({"containerID":"c1","ifname":"eth0","host":"h1","network":"over","time":"t"})"),
      kv("ipam/over/leases/10.0.0.3", R"({"containerID":"c2","ifname":"eth0","host":"h2","time":"t"})"),
      kv("ipam/shared/leases/10.0.0.4", R"({"containerID":"c3","ifname":"eth0","host":"h1","network":"other","time":"t"})"),
      kv("ipam/shared/owners/h1/c1/eth0", R"(["10.0.0.2"])"),
      kv("hosts/h1", R"({"host":"h1","vtep":"198.51.100.11","machineID":"m1","time":9})"),
      kv("alive/h1", R"({"host":"h1","vtep":"198.51.100.11","machineID":"m1","time":9})"),
      kv("hosts/h2", std::string(100, '[')),  // nested past the bound: a warning
      kv("unrelated/key", "x"),
  };
  auto s = snapshotOf(model::Keys("P/"), pairs);
  REQUIRE(s.net("over"));
  CHECK(s.net("over")->def->vni == 4096);
  REQUIRE(s.net("over")->members.size() == 1);
  CHECK(s.net("over")->members[0].vtep == "198.51.100.11");
  REQUIRE(s.attachments.size() == 1);
  CHECK(s.attachments[0].names == std::vector<std::string>{"web"});
  CHECK(s.leasesOf("shared").size() == 2);
  auto mine = s.leasesOfNetwork("over");  // shared pool by network, plus the pool named after the network
  REQUIRE(mine.size() == 2);
  CHECK(mine[0]->ip == "10.0.0.2");
  CHECK(mine[1]->ip == "10.0.0.3");
  REQUIRE(s.hosts.size() == 1);
  CHECK(s.hosts[0].machineId == "m1");
  CHECK(s.alive == std::set<std::string>{"h1"});
  REQUIRE(s.warnings.size() == 2);
  CHECK(s.warnings[0].find("P/networks/over/members/h2 has no valid 'vtep'") != std::string::npos);
  CHECK(s.warnings[1].find("P/hosts/h2 is nested more than 64 levels deep") != std::string::npos);
}

TEST_CASE("overlayctl snapshot: a host's last activity is its newest claim or attachment") {
  auto kv = [](std::string k, std::string v) { return kv::KvPair{"P/" + k, std::move(v), 1, 7, 0}; };
  auto s = snapshotOf(model::Keys("P/"), {
      kv("hosts/h1", R"({"host":"h1","vtep":"198.51.100.11","machineID":"m1","time":100})"),
      kv("attachments/over/h1/c1/eth0", R"({"ips":["10.0.0.2/24"],"time":250})"),
      kv("attachments/over/h1/c2/eth0", R"({"ips":["10.0.0.3/24"],"time":200})"),
      kv("attachments/over/h2/c3/eth0", R"({"ips":["10.0.0.4/24"],"time":900})"),
      kv("hosts/h3", R"({"host":"h3","vtep":"198.51.100.13","machineID":"m3","time":300})"),
  });
  CHECK(lastActivity(s, "h1") == 250);
  CHECK(lastActivity(s, "h2") == 900);  // attachments alone (its claim was lost)
  CHECK(lastActivity(s, "h3") == 300);  // its claim alone
  CHECK(lastActivity(s, "h4") == 0);
}
