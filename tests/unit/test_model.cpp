// The cluster state model (common/model/): every key, every record, bounded parsing.
#include <doctest/doctest.h>

#include <string>

#include "cni/json.hpp"
#include "model/keys.hpp"
#include "model/mtu.hpp"
#include "model/network.hpp"
#include "model/read_ahead.hpp"
#include "model/records.hpp"
#include "model/store_identity.hpp"

using namespace ovl;
using Kind = model::Keys::Kind;

TEST_CASE("model: keys are built in one place and classified back") {
  model::Keys k("P/");
  CHECK(k.networkConfig("over") == "P/networks/over/config");
  CHECK(k.member("over", "h1") == "P/networks/over/members/h1");
  CHECK(k.vni(4096) == "P/vnis/4096");
  CHECK(k.attachment("over", "h1", "c1", "eth0") == "P/attachments/over/h1/c1/eth0");
  CHECK(k.host("h1") == "P/hosts/h1");
  CHECK(k.lease("pool", "10.0.0.2") == "P/ipam/pool/leases/10.0.0.2");
  CHECK(k.owner("pool", "h1", "c1", "eth0") == "P/ipam/pool/owners/h1/c1/eth0");
  CHECK(k.cursor("pool", 1) == "P/ipam/pool/cursor/1");
  CHECK(k.cluster() == "P/cluster");
  CHECK(k.changed("over") == "P/networks/over/changed");
  CHECK(k.classify("P/networks/over/changed").kind == Kind::Changed);
  CHECK(k.classify("P/networks/over/changed").net == "over");
  CHECK(k.networkOfAttachments(k.attachmentsOf("over")) == "over");
  for (const char* not_one : {"P/attachments/", "P/attachments//", "P/attachments/over", "P/attachments/over/h1/",
                              "P/networks/over/", "Q/attachments/over/"})
    CHECK_MESSAGE(!k.networkOfAttachments(not_one), not_one);

  for (const auto& key : {k.networkConfig("over"), k.member("over", "h1"), k.vni(4096),
                          k.attachment("over", "h1", "c1", "eth0"), k.host("h1"), k.lease("pool", "10.0.0.2"),
                          k.owner("pool", "h1", "c1", "eth0"), k.cursor("pool", 1), k.cluster()})
    CHECK_MESSAGE(k.classify(key).kind != Kind::Other, key);
  auto a = k.classify("P/attachments/over/h1/c1/eth0");
  CHECK(a.kind == Kind::Attachment);
  CHECK((a.net == "over" && a.host == "h1" && a.containerId == "c1" && a.ifName == "eth0"));
  auto o = k.classify("P/ipam/pool/owners/h2/c1/eth1");
  CHECK(o.kind == Kind::Owner);
  CHECK((o.pool == "pool" && o.host == "h2" && o.containerId == "c1" && o.ifName == "eth1"));
  CHECK(k.classify("P/vnis/12").vni == 12);
  CHECK(k.classify("P/ipam/pool/cursor/3").rangeSet == 3);

  // Not ours, or the wrong shape: Other, never a crash or a half-filled record.
  for (const char* key : {"Q/networks/over/config", "P/networks/over", "P/networks//config", "P/vnis/x",
                          "P/vnis/-1", "P/attachments/over/h1/c1", "P/ipam/pool/owners/c1/eth0",
                          "P/ipam/pool/cursor/x", "P/something/else", "P/", ""})
    CHECK_MESSAGE(k.classify(key).kind == Kind::Other, key);
  CHECK(model::Keys("").classify("networks/over/members/h1").kind == Kind::Member);
}

TEST_CASE("model: records round-trip through their one writer and reader") {
  model::Member m{"h1", *IpAddr::parse("198.51.100.11"), 4789, 4096};
  auto m2 = model::parseMember("k", "h1", model::toJson(m));
  REQUIRE(m2);
  CHECK(*m2 == m);

  model::Lease l{"c1", "eth0", "h1", "over", "2024-01-01T00:00:00Z"};
  auto l2 = model::parseLease("k", model::toJson(l));
  REQUIRE(l2);
  CHECK(*l2 == l);

  model::Attachment a{"over", "h1", "c1", "eth0", "02:00:00:00:00:01", {"10.0.0.2/24"}, {"web"}, 7};
  auto a2 = model::parseAttachment("k", "over", "h1", "c1", "eth0", model::toJson(a));
  REQUIRE(a2);
  CHECK(a2->ips == a.ips);
  CHECK(a2->names == a.names);
  CHECK(a2->mac == a.mac);
  CHECK(a2->time == 7);

  auto ips = model::parseOwnerIndex("k", model::ownerIndexJson({*IpAddr::parse("10.0.0.2"), *IpAddr::parse("fd00::2")}));
  REQUIRE(ips);
  CHECK(ips->size() == 2);

  model::NetworkDef d{"over", 4096, "global", {*model::makeSubnetDef("10.0.0.0/24", "10.0.0.1", std::nullopt)}, ""};
  auto d2 = model::parseDefinition("over", model::definitionJson(d));
  REQUIRE(d2);
  CHECK(d2->vni == 4096);
  CHECK(d2->subnets.size() == 1);
}

TEST_CASE("model: a bad record is an error naming its key") {
  auto noVtep = model::parseMember("P/networks/n/members/h1", "h1", R"({"port":4789})");
  REQUIRE_FALSE(noVtep);
  CHECK(noVtep.error().code == Code::Decode);
  CHECK(noVtep.error().msg == "record P/networks/n/members/h1 has no valid 'vtep'");
  CHECK_FALSE(model::parseMember("k", "h", R"({"vtep":"198.51.100.1","port":70000})"));
  CHECK_FALSE(model::parseLease("k", R"({"ifname":"eth0"})"));
  CHECK_FALSE(model::parseLease("k", "[]"));
  CHECK_FALSE(model::parseOwnerIndex("k", R"(["10.0.0.2", "nope"])"));
  CHECK_FALSE(model::parseAttachment("k", "n", "h", "c", "e", R"({"ips":"10.0.0.2"})"));
  CHECK_FALSE(model::parseDefinition("n", R"({"scope":"global"})"));
}

TEST_CASE("model: the VNI reservation and the IPAM cursor have one writer and one reader") {
  model::VniReservation v{"over-1.a_b"};
  CHECK(model::toValue(v) == "over-1.a_b");  // bare, as stores written by earlier versions hold it
  auto v2 = model::parseVniReservation("P/vnis/4096", model::toValue(v));
  REQUIRE(v2);
  CHECK(*v2 == v);
  for (std::string bad : {std::string(), std::string("{\"network\":\"over\"}"), std::string("../etc"),
                          std::string("a b"), std::string(300, 'a'), std::string(180000, '[')}) {
    auto r = model::parseVniReservation("P/vnis/4096", bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Code::Decode);
    CHECK(r.error().msg == "record P/vnis/4096 does not hold a network name");
  }

  for (const char* ip : {"10.0.0.7", "fd00::7"}) {
    model::Cursor c{*IpAddr::parse(ip)};
    CHECK(model::toValue(c) == ip);
    auto c2 = model::parseCursor("P/ipam/pool/cursor/0", model::toValue(c));
    REQUIRE(c2);
    CHECK(*c2 == c);
  }
  for (std::string bad : {std::string(), std::string("10.0.0.7/24"), std::string("\"10.0.0.7\""),
                          std::string("10.0.0.256"), std::string(100000, '[')}) {
    auto r = model::parseCursor("P/ipam/pool/cursor/0", bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().msg == "record P/ipam/pool/cursor/0 does not hold an address");
  }
}

TEST_CASE("model: the store's identity marker has one writer and one reader") {
  model::StoreMarker m{"0123456789abcdef-1764650000", 1764650000};
  auto m2 = model::parseStoreMarker("P/cluster", model::toJson(m));
  REQUIRE(m2);
  CHECK(*m2 == m);
  for (std::string bad : {std::string(), std::string("{}"), std::string("{\"id\":7}"), std::string("[]"),
                          std::string(180000, '[')}) {
    auto r = model::parseStoreMarker("P/cluster", bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Code::Decode);
    CHECK(r.error().msg.find("P/cluster") != std::string::npos);
  }
}

TEST_CASE("json: nesting and size are bounded before anything recursive runs") {
  CHECK(json::nestingDepth(R"({"a":[1,{"b":"[[[["}]})") == 3);  // brackets inside strings do not count
  CHECK(json::nestingDepth(R"("\"[[")") == 0);
  std::string deep(180000, '[');
  deep += std::string(180000, ']');
  json::Doc d;
  auto r = json::parseInto(d, deep, "value");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Code::Decode);
  CHECK(r.error().msg == "value is nested more than 64 levels deep");
  auto rec = model::parseAttachment("P/attachments/n/h/c/eth0", "n", "h", "c", "eth0", deep);
  REQUIRE_FALSE(rec);
  CHECK(rec.error().msg.find("record P/attachments/n/h/c/eth0 is nested") == 0);
  std::string ok64(64, '['), ok65(65, '[');
  ok64 += std::string(64, ']');
  ok65 += std::string(65, ']');
  CHECK(json::parseInto(d, ok64, "v"));
  CHECK_FALSE(json::parseInto(d, ok65, "v"));
  std::string big = "\"" + std::string(json::kMaxDocumentBytes, 'a') + "\"";
  CHECK_FALSE(json::parseInto(d, big, "v"));
}

TEST_CASE("mtu: one per network, refused where the underlay cannot carry it") {
  auto member = [](std::string host, unsigned mtu, unsigned underlay) {
    model::Member m;
    m.host = std::move(host);
    m.mtu = mtu;
    m.underlayMtu = underlay;
    return m;
  };
  model::MtuInput in;
  in.network = "over";
  in.self = "h3";
  in.underlayName = "eth0";
  in.underlayMtu = 1500;
  // The first member: what its underlay carries.
  CHECK(*model::networkMtu(in) == 1450);
  in.overhead = 70;
  CHECK(*model::networkMtu(in) == 1430);
  in.overhead = 50;
  // Later members follow the network's MTU, the smallest recorded, even with a larger underlay.
  in.members = {member("h1", 1450, 1500), member("h2", 1350, 1400), member("h3", 9000, 9050)};
  CHECK(*model::networkMtu(in) == 1350);
  // Records of older writers (no MTU) are left out.
  in.members = {member("h1", 0, 0)};
  CHECK(*model::networkMtu(in) == 1450);
  // A smaller underlay cannot join a network that runs larger: the message names the host and the figures.
  in.underlayMtu = 1400;
  in.members = {member("h1", 1450, 1500)};
  auto r = model::networkMtu(in);
  REQUIRE(!r);
  CHECK(r.error().code == Code::InvalidConfig);
  CHECK(r.error().msg.find("host 'h3'") != std::string::npos);
  CHECK(r.error().msg.find("eth0 has MTU 1400, at most 1350") != std::string::npos);
  CHECK(r.error().msg.find("on 'h1'") != std::string::npos);
  CHECK(r.error().msg.find("is 1450") != std::string::npos);
  // A configured MTU is checked against this host and every member that says its underlay MTU.
  in.configured = 1350;
  CHECK(*model::networkMtu(in) == 1350);
  in.configured = 1400;
  r = model::networkMtu(in);
  REQUIRE(!r);
  CHECK(r.error().msg.find("host 'h3'") != std::string::npos);
  in.underlayMtu = 9000;
  in.members = {member("h1", 1450, 1500), member("h2", 0, 0)};
  in.configured = 1460;
  r = model::networkMtu(in);
  REQUIRE(!r);
  CHECK(r.error().msg.find("host 'h1'") != std::string::npos);
  // Tiny underlays still give the IPv4 minimum.
  CHECK(model::carriedMtu(600, 50) == 576);
}

TEST_CASE("mtu: member records carry both MTUs, and keep older records readable") {
  model::Member m;
  m.host = "h1";
  m.vtep = *IpAddr::parse("198.51.100.1");
  m.vni = 42;
  m.mtu = 1350;
  m.underlayMtu = 1400;
  auto back = model::parseMember("k", "h1", model::toJson(m));
  REQUIRE(back);
  CHECK(*back == m);
  auto old = model::parseMember("k", "h1", R"({"host":"h1","vtep":"198.51.100.1","port":4789,"vni":42})");
  REQUIRE(old);
  CHECK(old->mtu == 0);
  auto silly = model::parseMember("k", "h1", R"({"vtep":"198.51.100.1","mtu":5,"underlayMtu":1e9})");
  REQUIRE(silly);
  CHECK(silly->mtu == 0);
  CHECK(silly->underlayMtu == 0);
}

TEST_CASE("model: a read-ahead answers only for the keys it read") {
  ovl::model::ReadAhead r;
  r.keys = {"p/ipam/a/cursor/0", "p/cluster"};
  CHECK_FALSE(r.answer("p/cluster").has_value());  // not read yet: the store reads for itself
  r.read = true;
  r.found["p/ipam/a/cursor/0"] = ovl::kv::KvPair{"p/ipam/a/cursor/0", "\"10.0.0.2\"", 4, 5, 0};
  REQUIRE(r.answer("p/ipam/a/cursor/0").has_value());
  REQUIRE(r.answer("p/ipam/a/cursor/0")->has_value());
  CHECK((*r.answer("p/ipam/a/cursor/0"))->modifyIndex == 5);
  REQUIRE(r.answer("p/cluster").has_value());  // read, and absent
  CHECK_FALSE(r.answer("p/cluster")->has_value());
  CHECK_FALSE(r.answer("p/ipam/a/cursor/1").has_value());  // never asked
  CHECK(ovl::model::offered<ovl::model::ReadAhead>() == nullptr);
  {
    ovl::model::Offer<ovl::model::ReadAhead> offer(r);
    CHECK(ovl::model::offered<ovl::model::ReadAhead>() == &r);
  }
  CHECK(ovl::model::offered<ovl::model::ReadAhead>() == nullptr);
}

TEST_CASE("model: a store identity matches only the same Consul with the same credentials") {
  ovl::kv::ConsulConfig a;
  a.addresses = {"http://198.51.100.10:8500"};
  a.token = "t1";
  const auto id = ovl::model::StoreIdentity::of(a);
  CHECK(id.matches(a));
  auto other = a;
  other.addresses = {"http://198.51.100.11:8500"};
  CHECK_FALSE(id.matches(other));  // another Consul: the caller's records must not go there
  other = a;
  other.addresses.push_back("http://198.51.100.11:8500");
  CHECK_FALSE(id.matches(other));
  other = a;
  other.token = "t2";
  CHECK_FALSE(id.matches(other));  // another token: not with rights the caller's configuration did not give
  other = a;
  other.tokenFile = "/etc/cni/token";
  CHECK_FALSE(id.matches(other));
  CHECK_FALSE(ovl::model::StoreIdentity{}.matches(ovl::kv::ConsulConfig{}));  // nothing offered
}
