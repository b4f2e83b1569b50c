#include "gwbridge/rules.hpp"

// glibc's netinet/in.h before the kernel's headers, which then leave out what it defines.
#include <netinet/in.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter_bridge.h>

#include <algorithm>

#include "gwbridge/config.hpp"
#include "nfnl/match.hpp"

namespace ovl::gwbridge {
namespace {

using nfnl::Family;
namespace m = nfnl::match;
namespace x = nfnl::expr;

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }
std::string boolText(bool b) { return b ? "true" : "false"; }

// The base chains of "inet ovl_gwbridge": name and hook (type, number, priority), all policy accept.
struct BaseChain {
  std::string_view name, type;
  uint32_t hook;
  int32_t priority;
};
constexpr BaseChain kInetChains[] = {
    {"prerouting", "nat", NF_INET_PRE_ROUTING, -100},   // dstnat
    {"output", "nat", NF_INET_LOCAL_OUT, -100},
    {"postrouting", "nat", NF_INET_POST_ROUTING, 100},  // srcnat
    {"forward", "filter", NF_INET_FORWARD, 0},
    // Before NAT (dstnat is -100): sees the addresses a packet arrives with, not those conntrack restores.
    {"localnet", "filter", NF_INET_PRE_ROUTING, -150},
};
// bridge family: "priority filter" is -200 there.
constexpr BaseChain kIsolation = {"isolation", "filter", NF_BR_FORWARD, -200};

// nft's datatypes (6 bits per part of a concatenation) and the user data nft 1.0.6 writes for these
// declarations ("type a . b", `nft --debug=mnl`): key and data byte order 0, a concatenation as the key's
// and the data's typeof, data not an interval.
constexpr uint32_t kIpv4Addr = 7, kIpv6Addr = 8, kInetProto = 12, kInetService = 13, kIfname = 41;
constexpr uint32_t concatType(std::initializer_list<uint32_t> parts) {
  uint32_t t = 0;
  for (uint32_t p : parts) t = t << 6 | p;
  return t;
}
const nfnl::Bytes kMapUdata = {0, 4, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0, 3, 8, 0, 4, 13, 0, 0, 0, 1, 0,
                               4, 8, 0, 4, 13, 0, 0, 0, 1, 0, 6, 4, 0, 0, 0, 0};
const nfnl::Bytes kSetUdata = {0, 4, 0, 0, 0, 0, 3, 8, 0, 4, 13, 0, 0, 0, 1, 0};

nfnl::SetSpec portMap(std::string_view name, bool v6, bool byHost) {
  const uint32_t addr = v6 ? kIpv6Addr : kIpv4Addr, addrLen = v6 ? 16 : 4;
  return nfnl::SetSpec{
      .name = std::string(name),
      .flags = NFT_SET_MAP,
      .keyType = byHost ? concatType({addr, kInetProto, kInetService}) : concatType({kInetProto, kInetService}),
      .keyLen = (byHost ? addrLen : 0) + 8,
      .dataType = concatType({addr, kInetService}),
      .dataLen = addrLen + 4,
      .userdata = kMapUdata};
}

RuleSpec rule(Family f, std::string_view chain, std::vector<nfnl::Expr> exprs, std::string_view tag) {
  return RuleSpec{f, std::string(chain), std::move(exprs), std::string(tag)};
}

// The bridge's forward filter: what the host routes into it. Replies and connections DNAT-ed by a port
// mapping pass; anything else from outside the bridge is dropped; with icc=false so is what the host routes
// from the bridge back into it (sent to the gateway's MAC, it never crosses the bridge-family chain).
std::vector<RuleSpec> forwardChainRules(const BridgeSettings& s) {
  const std::string chain = gwnames::bridgeChain(s.bridge);
  std::vector<RuleSpec> out = {
      rule(Family::Inet, chain, m::ctBits(NFT_CT_STATE, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED)) + m::Exprs{x::verdict(NF_ACCEPT)}, ""),
      rule(Family::Inet, chain, m::ctBits(NFT_CT_STATUS, IPS_DST_NAT) + m::Exprs{x::verdict(NF_ACCEPT)}, ""),
      rule(Family::Inet, chain, m::ifname(false, s.bridge, false) + m::Exprs{x::verdict(NF_DROP)}, "")};
  if (!s.icc) out.push_back(rule(Family::Inet, chain, {x::verdict(NF_DROP)}, ""));
  return out;
}

}  // namespace

std::string BridgeSettings::stamp() const {
  std::string nets;
  for (const auto& n : subnets) nets += (nets.empty() ? "" : ",") + n.str();
  return "ipMasq=" + boolText(ipMasq) + " icc=" + boolText(icc) + " subnets=" + nets +
         " layout=" + std::to_string(kBridgeLayout);
}

bool BridgeSettings::olderLayout(std::string_view stamp) {
  const std::string mine = " layout=" + std::to_string(kBridgeLayout);
  return !(stamp.size() >= mine.size() && stamp.substr(stamp.size() - mine.size()) == mine);
}

std::optional<std::string> BridgeSettings::disagreement(std::string_view stamp) const {
  const std::string mine = this->stamp();
  if (stamp == mine) return std::nullopt;
  // Compare field by field ("key=value" separated by spaces) to name the first that differs.
  auto field = [](std::string_view s, std::string_view key) -> std::string {
    const std::string k = std::string(key) + "=";
    size_t p = s.find(k);
    if (p == std::string_view::npos) return "?";
    p += k.size();
    return std::string(s.substr(p, s.find(' ', p) == std::string_view::npos ? std::string_view::npos
                                                                            : s.find(' ', p) - p));
  };
  for (std::string_view key : {"ipMasq", "icc", "subnets"}) {
    const std::string here = field(mine, key), there = field(stamp, key);
    if (here == there) continue;
    const std::string what = key == "subnets" ? "the IPAM subnet" : "field '" + std::string(key) + "'";
    return what + " is " + here + " here but " + there + " on bridge '" + bridge +
           "', which other networks share: networks on one bridge must agree";
  }
  if (olderLayout(stamp)) return std::nullopt;  // the same settings, rules of an earlier layout
  return "settings '" + mine + "' differ from '" + std::string(stamp) + "' on bridge '" + bridge + "'";
}

BridgeSettings settingsOf(const AttachmentRules& a) {
  BridgeSettings s{.bridge = a.bridge, .ipMasq = a.ipMasq, .icc = a.icc, .subnets = {}};
  for (const auto& c : a.addrs) s.subnets.push_back(c.masked());
  std::sort(s.subnets.begin(), s.subnets.end(), [](const IpNet& x, const IpNet& y) { return x.str() < y.str(); });
  s.subnets.erase(std::unique(s.subnets.begin(), s.subnets.end()), s.subnets.end());
  return s;
}

void addTables(nfnl::Batch& b) {
  b.addTable(Family::Inet, kTable);
  for (const auto& c : kInetChains)
    b.addChain(Family::Inet, kTable, c.name, nfnl::Hook{c.hook, c.priority, std::string(c.type), NF_ACCEPT});
  b.addSet(Family::Inet, kTable, portMap(gwnames::kPorts4, false, false));
  b.addSet(Family::Inet, kTable, portMap(gwnames::kPorts4h, false, true));
  b.addSet(Family::Inet, kTable, portMap(gwnames::kPorts6, true, false));
  b.addSet(Family::Inet, kTable, portMap(gwnames::kPorts6h, true, true));
  b.addTable(Family::Bridge, kTable);
  b.addChain(Family::Bridge, kTable, kIsolation.name,
             nfnl::Hook{kIsolation.hook, kIsolation.priority, std::string(kIsolation.type), NF_ACCEPT});
  b.addSet(Family::Bridge, kTable,
           nfnl::SetSpec{.name = std::string(gwnames::kHairpin), .flags = 0, .keyType = concatType({kIfname, kIfname}),
                         .keyLen = 32, .dataType = 0, .dataLen = 0, .userdata = kSetUdata});
}

std::vector<RuleSpec> staticRules() {
  const std::string_view tag = gwnames::kStaticTag;
  std::vector<RuleSpec> out;
  for (std::string_view chain : {"prerouting", "output"}) {
    // IPv4 loopback is mapped too (route_localnet on the bridge, masquerade, the localnet guard); IPv6 has
    // no route_localnet, so ::1 is not.
    const m::Exprs local6 = chain == "output" ? m::notAddr(*IpAddr::parse("::1"), true) + m::fibDaddrLocal()
                                              : m::fibDaddrLocal();
    out.push_back(rule(Family::Inet, chain, m::dnatViaMap(false, true, gwnames::kPorts4h), tag));
    out.push_back(rule(Family::Inet, chain, m::dnatViaMap(false, false, gwnames::kPorts4, m::fibDaddrLocal()), tag));
    out.push_back(rule(Family::Inet, chain, m::dnatViaMap(true, true, gwnames::kPorts6h), tag));
    out.push_back(rule(Family::Inet, chain, m::dnatViaMap(true, false, gwnames::kPorts6, local6), tag));
  }
  // Frames a port sends back to itself (hairpin NAT under br_netfilter) pass the icc=false drops below:
  // iifname . oifname @hairpin accept.
  out.push_back(rule(Family::Bridge, kIsolation.name,
                     {x::meta(NFT_META_IIFNAME, x::kReg1), x::meta(NFT_META_OIFNAME, x::kReg2),
                      x::lookup(gwnames::kHairpin, x::kReg1, false), x::verdict(NF_ACCEPT)},
                     tag));
  return out;
}

Result<std::vector<RuleSpec>> bridgeChainRules(const BridgeSettings& s) {
  if (!isSafeIfName(s.bridge))
    return fail(Code::InvalidConfig, "bridge name '" + s.bridge + "' cannot be used in a rule");
  return forwardChainRules(s);
}

Result<std::vector<RuleSpec>> bridgeRules(const BridgeSettings& s) {
  if (!isSafeIfName(s.bridge))
    return fail(Code::InvalidConfig, "bridge name '" + s.bridge + "' cannot be used in a rule");
  if (s.subnets.empty()) return fail(Code::Internal, "no subnet for the bridge's rules");
  const std::string tag = bridgeTag(s.bridge);
  const m::Exprs masq = {x::masq()};
  std::vector<RuleSpec> out;
  out.push_back(rule(Family::Inet, "forward",
                     m::ifname(true, s.bridge, true) + m::Exprs{x::verdict(NFT_JUMP, gwnames::bridgeChain(s.bridge))}, tag));
  for (const IpNet& n : s.subnets) {
    if (!n.addr().valid()) return fail(Code::Internal, "invalid subnet for the bridge's rules");
    const bool v6 = n.addr().isV6();
    const IpNet net = n.masked();
    // <f> saddr NET oifname != BR masquerade
    if (s.ipMasq)
      out.push_back(rule(Family::Inet, "postrouting",
                         m::nfproto(v6) + m::prefix(net, false) + m::ifname(true, s.bridge, false) + masq, tag));
    // Hairpin and container-to-published-port: the reply must come back through the host. From the host's
    // 127.0.0.1 too: the container could not answer a loopback source.
    // <f> saddr NET <f> daddr NET oifname BR ct status dnat masquerade (and the same from 127.0.0.0/8)
    std::vector<IpNet> from = {net};
    if (!v6) from.push_back(*IpNet::parse("127.0.0.0/8"));
    for (const IpNet& src : from)
      out.push_back(rule(Family::Inet, "postrouting",
                         m::nfproto(v6) + m::prefix(src, false) + m::prefix(net, true) + m::ifname(true, s.bridge, true) +
                             m::ctBits(NFT_CT_STATUS, IPS_DST_NAT) + masq,
                         tag));
  }
  // route_localnet on the bridge (for published ports on 127.0.0.1) would also let a container send to the
  // host's loopback services, or from a loopback source, through the gateway: nothing arrives from the
  // bridge with a 127.0.0.0/8 address. Replies to 127.0.0.1 arrive addressed to the gateway and are
  // restored after this chain.
  const IpNet loopback = *IpNet::parse("127.0.0.0/8");
  for (bool daddr : {true, false})
    out.push_back(rule(Family::Inet, "localnet",
                       m::ifname(false, s.bridge, true) + m::nfproto(false) + m::prefix(loopback, daddr) +
                           m::Exprs{x::verdict(NF_DROP)},
                       tag));
  if (!s.icc) {
    // Every container port of the bridge is in its interface group: no frames between them and any other
    // port (the hairpin set above lets a port's own frames back).
    const uint32_t g = gwnames::bridgeGroup(s.bridge);
    for (bool outgoing : {false, true})
      out.push_back(rule(Family::Bridge, kIsolation.name, m::group(outgoing, g) + m::Exprs{x::verdict(NF_DROP)}, tag));
  }
  return out;
}

std::vector<RuleSpec> operator+(std::vector<RuleSpec> a, const std::vector<RuleSpec>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

void addRules(nfnl::Batch& b, const std::vector<RuleSpec>& rules) {
  for (const auto& r : rules) b.addRule(r.family, kTable, r.chain, r.exprs, r.comment);
}

Result<void> addBridge(nfnl::Batch& b, const BridgeSettings& s) {
  auto chainRules = TRY(bridgeChainRules(s));
  auto rules = TRY(bridgeRules(s));
  b.addChain(Family::Inet, kTable, gwnames::bridgeChain(s.bridge), std::nullopt, s.stamp());
  addRules(b, chainRules);
  addRules(b, rules);
  return {};
}

Result<std::vector<Element>> attachmentElements(const AttachmentRules& a) {
  // Everything that reaches the element text is checked here, whatever the caller did.
  if (!isValidIdentifier(a.containerId))
    return fail(Code::InvalidEnv, "container ID '" + a.containerId + "' cannot be used in a rule");
  if (!isSafeIfName(a.bridge) || !isSafeIfName(a.hostVeth))
    return fail(Code::InvalidConfig,
                "interface names '" + a.bridge + "', '" + a.hostVeth + "' cannot be used in a rule");
  std::vector<Element> out;
  bool seen4 = false, seen6 = false;
  for (const IpNet& c : a.addrs) {
    if (!c.addr().valid()) return fail(Code::Internal, "invalid container address for the rules");
    const bool v4 = c.addr().isV4();
    if (std::exchange(v4 ? seen4 : seen6, true)) continue;  // a host port maps to one address per family
    const std::string to = c.addr().str() + " . ";
    for (const auto& m : mappingsForFamily(a.ports, c.family())) {
      const std::string l4 = std::string(protoName(m.proto)) + " . " + std::to_string(m.hostPort);
      const std::string_view set = m.hostIp ? (v4 ? gwnames::kPorts4h : gwnames::kPorts6h)
                                            : (v4 ? gwnames::kPorts4 : gwnames::kPorts6);
      out.push_back({"inet", std::string(set), (m.hostIp ? m.hostIp->str() + " . " : "") + l4,
                     to + std::to_string(m.containerPort)});
    }
  }
  if (!a.icc && !out.empty())
    out.push_back({"bridge", std::string(gwnames::kHairpin), quoted(a.hostVeth) + " . " + quoted(a.hostVeth), ""});
  return out;
}

Result<void> addDeleteByValue(nfnl::Batch& b, const std::vector<Element>& elems) {
  TRY_VOID(gwnames::addElements(b, elems, ""));
  return gwnames::deleteElements(b, elems);
}

void addDeleteRules(nfnl::Batch& b, const std::vector<ListedRule>& rules) {
  for (const auto& r : rules)
    if (r.table == kTable && (r.family == Family::Inet || r.family == Family::Bridge) && !r.chain.empty())
      b.deleteRule(r.family, kTable, r.chain, r.handle);
}

}  // namespace ovl::gwbridge
