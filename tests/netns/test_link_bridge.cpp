#include <linux/if.h>

#include <algorithm>
#include <cerrno>

#include <netlink/errno.h>

#include "fixture.hpp"
#include "nl/bridge.hpp"
#include "nl/error.hpp"
#include "nl/link.hpp"

using namespace ovl;
using namespace ovl::test;

namespace {
bool hasLink(const std::vector<nl::LinkInfo>& links, const std::string& name) {
  return std::any_of(links.begin(), links.end(), [&](const nl::LinkInfo& l) { return l.name == name; });
}
}  // namespace

TEST_CASE("ensureBridge creates, verifies idempotently, and deleteLink removes") {
  TestNetns t;
  auto mac = *MacAddr::parse("02:00:00:00:aa:01");
  nl::BridgeSpec spec{"ovlbr0", 1400, mac, true};
  auto br = OKV(nl::ensureBridge(t.sock, spec));
  CHECK(br.kind == "bridge");
  CHECK(br.name == "ovlbr0");
  CHECK(br.mtu == 1400);
  CHECK(br.mac == mac);
  CHECK(br.up);
  CHECK(br.index > 0);

  auto again = OKV(nl::ensureBridge(t.sock, spec));
  CHECK(again.index == br.index);

  // Changed mtu is applied to the existing bridge.
  spec.mtu = 1300;
  CHECK(OKV(nl::ensureBridge(t.sock, spec)).mtu == 1300);

  auto links = OKV(nl::dumpLinks(t.sock));
  CHECK(hasLink(links, "ovlbr0"));
  CHECK(hasLink(links, "lo"));

  auto j = shJson(t.ip() + "-d -j link show dev ovlbr0");
  REQUIRE(j.IsArray());
  CHECK(jstr(j, "0.linkinfo.info_kind") == "bridge");
  CHECK(jint(j, "0.mtu") == 1300);
  CHECK(jstr(j, "0.address") == "02:00:00:00:aa:01");

  REQUIRE_OK(nl::deleteLink(t.sock, "ovlbr0"));
  CHECK_FALSE(OKV(nl::findLink(t.sock, "ovlbr0")).has_value());
  REQUIRE_OK(nl::deleteLink(t.sock, "ovlbr0"));  // absent is success
  CHECK_FALSE(OKV(nl::findLinkByIndex(t.sock, br.index)).has_value());
  auto req = nl::requireLink(t.sock, "ovlbr0");
  REQUIRE_FALSE(req);
  CHECK(req.error().notFound());
  CHECK(req.error().msg.find("'ovlbr0'") != std::string::npos);
}

TEST_CASE("ensureBridge refuses a non-bridge link with the same name") {
  TestNetns t;
  addTestLink(t, "ovlbr1");
  auto r = nl::ensureBridge(t.sock, {"ovlbr1"});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Code::InvalidConfig);
  CHECK(r.error().msg.find("'ovlbr1'") != std::string::npos);
  CHECK(r.error().msg.find("veth") != std::string::npos);
}

TEST_CASE("link setters: up/down, mtu, mac, master, rename") {
  TestNetns t;
  addTestLink(t, "d0");
  auto d0 = OKV(nl::requireLink(t.sock, "d0"));
  CHECK(d0.kind == "veth");
  CHECK_FALSE(d0.up);

  REQUIRE_OK(nl::setLinkUp(t.sock, d0.index, true));
  CHECK(OKV(nl::requireLink(t.sock, "d0")).up);
  REQUIRE_OK(nl::setLinkMtu(t.sock, d0.index, 1450));
  CHECK(OKV(nl::requireLink(t.sock, "d0")).mtu == 1450);
  auto mac = *MacAddr::parse("02:11:22:33:44:55");
  REQUIRE_OK(nl::setLinkMac(t.sock, d0.index, mac));
  CHECK(OKV(nl::requireLink(t.sock, "d0")).mac == mac);

  auto br = OKV(nl::ensureBridge(t.sock, {"ovlbr2"}));
  REQUIRE_OK(nl::setLinkMaster(t.sock, d0.index, br.index));
  CHECK(OKV(nl::requireLink(t.sock, "d0")).master == br.index);
  auto j = shJson(t.ip() + "-j link show dev d0");
  CHECK(jstr(j, "0.master") == "ovlbr2");

  REQUIRE_OK(nl::setBridgePortOptions(t.sock, d0.index, true, false));
  auto bj = shJson("bridge -n " + t.name() + " -d -j link show dev d0");
  REQUIRE(bj.IsArray());
  REQUIRE(bj.Size() == 1u);
  CHECK(jbool(bj, "0.hairpin") == true);
  CHECK(jbool(bj, "0.learning") == false);
  REQUIRE_OK(nl::setBridgePortOptions(t.sock, d0.index, false, true));
  bj = shJson("bridge -n " + t.name() + " -d -j link show dev d0");
  CHECK(jbool(bj, "0.hairpin") == false);
  CHECK(jbool(bj, "0.learning") == true);

  REQUIRE_OK(nl::setLinkMaster(t.sock, d0.index, 0));
  CHECK(OKV(nl::requireLink(t.sock, "d0")).master == 0);

  REQUIRE_OK(nl::setLinkUp(t.sock, d0.index, false));
  CHECK_FALSE(OKV(nl::requireLink(t.sock, "d0")).up);
  REQUIRE_OK(nl::renameLink(t.sock, d0.index, "d0-renamed"));
  CHECK_FALSE(OKV(nl::findLink(t.sock, "d0")).has_value());
  auto renamed = OKV(nl::requireLink(t.sock, "d0-renamed"));
  CHECK(renamed.index == d0.index);
  CHECK_FALSE(nl::renameLink(t.sock, d0.index, "this-name-is-too-long"));

  // Errors name the object and carry errno.
  auto bad = nl::setLinkMtu(t.sock, 99999, 1400);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().notFound());
  CHECK(bad.error().msg.find("99999") != std::string::npos);
  REQUIRE_OK(nl::deleteLinkByIndex(t.sock, 99999));
}

TEST_CASE("nlError maps libnl codes to errno") {
  CHECK(nl::nlError(-NLE_OBJ_NOTFOUND, "x").sysErrno == ENOENT);
  CHECK(nl::nlError(-NLE_OBJ_NOTFOUND, "x").notFound());
  CHECK(nl::nlError(-NLE_NODEV, "x").notFound());
  CHECK(nl::nlError(-NLE_EXIST, "x").sysErrno == EEXIST);
  CHECK(nl::nlError(-NLE_BUSY, "x").sysErrno == EBUSY);
  CHECK(nl::nlError(-NLE_PERM, "x").sysErrno == EPERM);
  CHECK(nl::nlError(-NLE_INVAL, "x").sysErrno == EINVAL);
  CHECK(nl::nlError(-NLE_FAILURE, "x").sysErrno == EIO);
  CHECK(nl::nlError(-NLE_DUMP_INTR, "x").sysErrno == EIO);
  auto e = nl::nlError(-NLE_EXIST, "creating vxlan 'ovx-42' (vni 42)");
  CHECK(e.msg.find("creating vxlan 'ovx-42' (vni 42): ") == 0);
  CHECK(e.code == Code::Internal);
}

TEST_CASE("dumpPorts lists exactly one bridge's ports") {
  TestNetns t;
  run(t.ip() + "link add ovlpa type bridge && " + t.ip() + "link add ovlpb type bridge");
  for (const char* p : {"pa1", "pa2"}) {
    addTestLink(t, p);
    run(t.ip() + "link set " + std::string(p) + " master ovlpa");
  }
  addTestLink(t, "pb1");
  run(t.ip() + "link set pb1 master ovlpb");
  addTestLink(t, "loose");
  auto a = OKV(nl::requireLink(t.sock, "ovlpa"));
  auto b = OKV(nl::requireLink(t.sock, "ovlpb"));
  auto portsA = OKV(nl::dumpPorts(t.sock, a.index));
  std::vector<std::string> names;
  for (const auto& l : portsA) {
    names.push_back(l.name);
    CHECK(l.master == a.index);
  }
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"pa1", "pa2"});
  auto portsB = OKV(nl::dumpPorts(t.sock, b.index));
  REQUIRE(portsB.size() == 1);
  CHECK(portsB[0].name == "pb1");
  CHECK(OKV(nl::dumpPorts(t.sock, 999999)).empty());  // no such master: no ports, not an error
  run(t.ip() + "link set pa2 nomaster");
  CHECK(OKV(nl::dumpPorts(t.sock, a.index)).size() == 1);
}
