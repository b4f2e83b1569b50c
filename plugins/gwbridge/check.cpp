// CHECK: the bridge, the veth and its container end, addresses, routes, the rules and the lease are all
// still as ADD left them and as prevResult says.
#include <map>
#include <set>

#include "cni/delegate.hpp"
#include "gwbridge/bridge.hpp"
#include "gwbridge/config.hpp"
#include "gwbridge/nat.hpp"
#include "gwbridge/plugin.hpp"
#include "gwbridge/state.hpp"
#include "nl/addr.hpp"
#include "nl/link.hpp"
#include "nl/route.hpp"
#include "ns/netns.hpp"
#include "ns/sysctl.hpp"

namespace ovl::gwbridge {
namespace {

Error bad(const std::string& msg) { return makeError(Code::Internal, "CHECK: " + msg); }

struct Ours {
  int index = -1;  // in prevResult.interfaces
  std::vector<cni::IpConfig> ips;
};

// Our container interface in prevResult: the one with the veth peer's name inside the sandbox.
Result<Ours> findOurs(const cni::NetResult& prev, const std::string& inner) {
  Ours o;
  for (size_t i = 0; i < prev.interfaces.size(); ++i)
    if (prev.interfaces[i].name == inner && !prev.interfaces[i].sandbox.empty()) o.index = int(i);
  if (o.index < 0) return fail(bad("prevResult has no interface '" + inner + "' in the container"));
  for (const auto& ip : prev.ips)
    if (ip.interface && *ip.interface == o.index) o.ips.push_back(ip);
  if (o.ips.empty()) return fail(bad("prevResult has no address on '" + inner + "'"));
  return o;
}

Result<void> checkAddresses(nl::Socket& host, nl::Socket& cs, int bridgeIndex, int peerIndex, const Ours& o) {
  auto inside = TRY(nl::dumpAddresses(cs, peerIndex));
  auto onBridge = TRY(nl::dumpAddresses(host, bridgeIndex));
  for (const auto& ip : o.ips) {
    bool found = std::any_of(inside.begin(), inside.end(), [&](const auto& a) { return a.net == ip.address; });
    if (!found) return fail(bad("address " + ip.address.str() + " is missing in the container"));
    if (!ip.gateway) continue;
    bool gw = std::any_of(onBridge.begin(), onBridge.end(), [&](const auto& a) { return a.net.addr() == *ip.gateway; });
    if (!gw) return fail(bad("gateway " + ip.gateway->str() + " is missing on the bridge"));
  }
  return {};
}

// Every route of prevResult through one of our gateways is in the container on our interface, and with
// defaultRoute so is a default route through the bridge.
Result<void> checkRoutes(nl::Socket& cs, int peerIndex, const cni::NetResult& prev, const Ours& o, bool dflt) {
  auto present = [&](const IpNet& dst, const IpAddr& via) -> Result<bool> {
    auto routes = TRY(nl::dumpRoutes(cs, dst.family()));
    return std::any_of(routes.begin(), routes.end(), [&](const nl::RouteSpec& k) {
      return k.dst.masked() == dst.masked() && k.gw == via && k.ifindex == peerIndex;
    });
  };
  for (const auto& ip : o.ips) {
    if (!ip.gateway) continue;
    for (const auto& r : prev.routes)
      if (r.gw && *r.gw == *ip.gateway && !TRY(present(r.dst, *r.gw)))
        return fail(bad("route " + r.dst.str() + " via " + r.gw->str() + " is missing in the container"));
    IpNet any(ip.address.addr().isV4() ? *IpAddr::parse("0.0.0.0") : *IpAddr::parse("::"), 0);
    if (dflt && !TRY(present(any, *ip.gateway)))
      return fail(bad("the default route via " + ip.gateway->str() + " is missing in the container"));
  }
  return {};
}

// Rules per "<family> <chain>".
std::map<std::string, int> countByChain(const std::vector<RuleSpec>& rules) {
  std::map<std::string, int> out;
  for (const auto& r : rules) out[std::string(nfnl::familyName(r.family)) + " " + r.chain]++;
  return out;
}

std::string counts(const std::map<std::string, int>& m) {
  std::string out;
  for (auto& [k, n] : m) out += " " + k + "=" + std::to_string(n);
  return out.empty() ? " none" : out;
}

// The bridge's rules: its chain with the settings this network has, and as many rules per chain as ADD makes.
Result<void> checkBridgeRules(const BridgeSettings& want) {
  const std::string chain = gwnames::bridgeChain(want.bridge);
  auto stamp = TRY(findBridgeStamp(want.bridge));
  if (!stamp)
    return fail(bad("the rules of bridge '" + want.bridge + "' are missing (no chain inet " + std::string(kTable) +
                    " " + chain + "): no masquerade, and routed traffic may reach unpublished container ports"));
  if (auto why = want.disagreement(*stamp)) return fail(bad(*why));
  if (BridgeSettings::olderLayout(*stamp))
    return fail(bad("the rules of bridge '" + want.bridge + "' are of an earlier layout ('" + *stamp +
                    "'): the next ADD on this bridge rewrites them"));
  auto expected = countByChain(TRY(bridgeChainRules(want)) + TRY(bridgeRules(want)) + staticRules());
  std::map<std::string, int> actual;
  for (const auto& r : TRY(listRules()))
    if (r.comment == bridgeTag(want.bridge) || r.comment == gwnames::kStaticTag || r.chain == chain)
      actual[std::string(nfnl::familyName(r.family)) + " " + r.chain]++;
  const std::string fwd = "inet " + chain;
  if (expected[fwd] != actual[fwd])
    return fail(bad("the forward filter of bridge '" + want.bridge + "' (chain inet " + std::string(kTable) + " " +
                    chain + ") has " + std::to_string(actual[fwd]) + " rules, want " + std::to_string(expected[fwd]) +
                    (actual[fwd] < expected[fwd] ? ": routed traffic may reach unpublished container ports" : "")));
  if (expected != actual)
    return fail(bad("nftables rules of bridge '" + want.bridge + "' differ: want" + counts(expected) + ", have" +
                    counts(actual)));
  return {};
}

// The attachment's elements in the maps are exactly those ADD would add now.
Result<void> checkElements(const Attachment& at, const AttachmentRules& want) {
  auto expected = TRY(attachmentElements(want));
  std::vector<Element> actual;
  for (auto& l : TRY(listElements()))
    if (l.comment == at.tag) actual.push_back(std::move(l.elem));
  auto key = [](const Element& e) { return e.family + " " + e.set + " { " + e.key + (e.value.empty() ? "" : " : " + e.value) + " }"; };
  std::set<std::string> want_, have;
  for (const auto& e : expected) want_.insert(key(e));
  for (const auto& e : actual) have.insert(key(e));
  if (want_ == have) return {};
  std::string missing, extra;
  for (const auto& k : want_)
    if (!have.contains(k)) missing += (missing.empty() ? "" : ", ") + k;
  for (const auto& k : have)
    if (!want_.contains(k)) extra += (extra.empty() ? "" : ", ") + k;
  return fail(bad("the port mappings of " + at.tag + " differ:" + (missing.empty() ? "" : " missing " + missing) +
                  (extra.empty() ? "" : " extra " + extra)));
}

Result<void> checkRules(const Attachment& at, const GwConf& gw, const Ours& o) {
  AttachmentRules want{.network = at.network,
                       .containerId = at.containerId,
                       .ifName = at.ifName,
                       .bridge = gw.bridge,
                       .hostVeth = at.hostVeth,
                       .ipMasq = gw.ipMasq,
                       .icc = gw.icc,
                       .ports = gw.portMappings};
  for (const auto& ip : o.ips) want.addrs.push_back(ip.address);
  TRY_VOID(checkBridgeRules(settingsOf(want)));
  TRY_VOID(checkElements(at, want));
  if (!readRecord(at.network, at.containerId, at.ifName))
    return fail(bad("the record of " + at.tag + " is missing: DEL would not find its port mappings"));
  return {};
}

}  // namespace

Result<void> cmdCheck(const cni::CmdArgs& args, const cni::NetConf& conf) {
  auto gw = TRY(parseGwConf(conf, args.stdinData));
  if (!conf.prevResult) return fail(Code::InvalidConfig, "CHECK needs prevResult");
  const Attachment at = attachmentOf(args, conf);
  auto netns = TRY(ns::Netns::open(args.netns));
  TRY_VOID(ns::refuseCurrent(netns));
  TRY_VOID(cni::delegateCheck(gw.ipamType, ipamArgs(args, conf), gw.ipamStdin));

  auto host = TRY(nl::Socket::open());
  auto br = TRY(nl::findLink(host, gw.bridge));
  if (!br || br->kind != "bridge") return fail(bad("bridge '" + gw.bridge + "' is missing"));
  if (!br->up) return fail(bad("bridge '" + gw.bridge + "' is down"));
  auto veth = TRY(nl::findLink(host, at.hostVeth));
  if (!veth) return fail(bad("veth '" + at.hostVeth + "' is missing"));
  if (veth->master != br->index) return fail(bad("veth '" + at.hostVeth + "' is not a port of '" + gw.bridge + "'"));
  if (const uint32_t g = gwnames::bridgeGroup(gw.bridge); veth->group != g)
    return fail(bad("veth '" + at.hostVeth + "' is in interface group " + std::to_string(veth->group) + ", not " +
                    std::to_string(g) + " of bridge '" + gw.bridge +
                    "': with icc=false the bridge's isolation rules do not see its frames"));

  auto cs = TRY(nl::Socket::openInNetns(netns.fd()));
  auto peer = TRY(nl::findLinkByIndex(cs, veth->linkIndex));
  if (!peer) return fail(bad("the container end of '" + at.hostVeth + "' is missing"));
  if (!peer->up) return fail(bad("'" + peer->name + "' is down in the container"));
  auto ours = TRY(findOurs(*conf.prevResult, peer->name));
  if (peer->mac.str() != conf.prevResult->interfaces[size_t(ours.index)].mac &&
      !conf.prevResult->interfaces[size_t(ours.index)].mac.empty())
    return fail(bad("'" + peer->name + "' has MAC " + peer->mac.str() + ", prevResult says " +
                    conf.prevResult->interfaces[size_t(ours.index)].mac));
  TRY_VOID(checkAddresses(host, cs, br->index, peer->index, ours));
  TRY_VOID(checkRoutes(cs, peer->index, *conf.prevResult, ours, gw.defaultRoute));
  TRY_VOID(checkRules(at, gw, ours));
  for (const auto& ip : ours.ips) {
    auto fwd = TRY(ns::readSysctl(ip.address.addr().isV4() ? "net/ipv4/ip_forward" : "net/ipv6/conf/all/forwarding"));
    if (fwd != "1") return fail(bad("IP forwarding is off"));
    if (!ip.address.addr().isV4() || gw.portMappings.empty()) continue;
    auto localnet = TRY(ns::readSysctl("net/ipv4/conf/" + gw.bridge + "/route_localnet"));
    if (localnet != "1") return fail(bad("route_localnet is off on '" + gw.bridge + "': published ports miss 127.0.0.1"));
  }
  return {};
}

}  // namespace ovl::gwbridge
