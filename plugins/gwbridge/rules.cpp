#include "gwbridge/rules.hpp"

#include <algorithm>

#include "cni/json.hpp"
#include "gwbridge/config.hpp"

namespace ovl::gwbridge {
namespace {

std::string fam(const IpAddr& a) { return a.isV4() ? "ip" : "ip6"; }
std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }
std::string boolText(bool b) { return b ? "true" : "false"; }
std::string table() { return std::string(kTable); }

// The chains of "inet ovl_gwbridge": name, type, hook and priority.
constexpr std::string_view kInetChains[] = {
    "prerouting { type nat hook prerouting priority dstnat;",
    "output { type nat hook output priority -100;",
    "postrouting { type nat hook postrouting priority srcnat;",
    "forward { type filter hook forward priority filter;",
    // Before NAT (dstnat is -100): sees the addresses a packet arrives with, not those conntrack restores.
    "localnet { type filter hook prerouting priority -150;",
};

struct MapSpec {
  std::string_view name, type;
};
constexpr MapSpec kMaps[] = {
    {gwnames::kPorts4, "inet_proto . inet_service : ipv4_addr . inet_service"},
    {gwnames::kPorts4h, "ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service"},
    {gwnames::kPorts6, "inet_proto . inet_service : ipv6_addr . inet_service"},
    {gwnames::kPorts6h, "ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service"},
};

std::string rule(std::string_view family, std::string_view chain, std::string_view body, std::string_view tag) {
  return "add rule " + std::string(family) + " " + table() + " " + std::string(chain) + " " + std::string(body) +
         (tag.empty() ? "" : " comment " + quoted(tag)) + "\n";
}

// dnat through one map: "<fam> daddr ." when the map is keyed by the host address.
std::string dnatVia(bool v4, bool byHost, std::string_view map) {
  const std::string f = v4 ? "ip" : "ip6";
  return "dnat " + f + " to " + (byHost ? f + " daddr . " : "") + "meta l4proto . th dport map @" + std::string(map);
}

// The bridge's forward filter: what the host routes into it. Replies and connections DNAT-ed by a port
// mapping pass; anything else from outside the bridge is dropped; with icc=false so is what the host routes
// from the bridge back into it (sent to the gateway's MAC, it never crosses the bridge-family chain).
void forwardRules(std::string& out, const BridgeSettings& s) {
  const std::string chain = gwnames::bridgeChain(s.bridge);
  out += "add chain inet " + table() + " " + chain + " { comment " + quoted(s.stamp()) + "; }\n";
  out += rule("inet", chain, "ct state established,related accept", "");
  out += rule("inet", chain, "ct status dnat accept", "");
  out += rule("inet", chain, "iifname != " + quoted(s.bridge) + " drop", "");
  if (!s.icc) out += rule("inet", chain, "drop", "");
  out += rule("inet", "forward", "oifname " + quoted(s.bridge) + " jump " + chain, bridgeTag(s.bridge));
}

}  // namespace

std::string BridgeSettings::stamp() const {
  std::string nets;
  for (const auto& n : subnets) nets += (nets.empty() ? "" : ",") + n.str();
  return "ipMasq=" + boolText(ipMasq) + " icc=" + boolText(icc) + " subnets=" + nets;
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
  return "settings '" + mine + "' differ from '" + std::string(stamp) + "' on bridge '" + bridge + "'";
}

BridgeSettings settingsOf(const AttachmentRules& a) {
  BridgeSettings s{.bridge = a.bridge, .ipMasq = a.ipMasq, .icc = a.icc, .subnets = {}};
  for (const auto& c : a.addrs) s.subnets.push_back(c.masked());
  std::sort(s.subnets.begin(), s.subnets.end(), [](const IpNet& x, const IpNet& y) { return x.str() < y.str(); });
  s.subnets.erase(std::unique(s.subnets.begin(), s.subnets.end()), s.subnets.end());
  return s;
}

std::string ensureTablesText() {
  const std::string t = table();
  std::string out = "add table inet " + t + "\n";
  for (std::string_view chain : kInetChains)
    out += "add chain inet " + t + " " + std::string(chain) + " policy accept; }\n";
  for (const auto& m : kMaps)
    out += "add map inet " + t + " " + std::string(m.name) + " { type " + std::string(m.type) + "; }\n";
  return out + "add table bridge " + t + "\n" + "add chain bridge " + t +
         " isolation { type filter hook forward priority filter; policy accept; }\n" + "add set bridge " + t + " " +
         std::string(gwnames::kHairpin) + " { type ifname . ifname; }\n";
}

std::string staticRulesText() {
  const std::string_view tag = gwnames::kStaticTag;
  std::string out;
  for (std::string_view chain : {"prerouting", "output"}) {
    // IPv4 loopback is mapped too (route_localnet on the bridge, masquerade, the localnet guard); IPv6 has
    // no route_localnet, so ::1 is not.
    const std::string notLoopback6 = chain == "output" ? "ip6 daddr != ::1 " : "meta nfproto ipv6 ";
    out += rule("inet", chain, dnatVia(true, true, gwnames::kPorts4h), tag);
    out += rule("inet", chain, "meta nfproto ipv4 fib daddr type local " + dnatVia(true, false, gwnames::kPorts4), tag);
    out += rule("inet", chain, dnatVia(false, true, gwnames::kPorts6h), tag);
    out += rule("inet", chain, notLoopback6 + "fib daddr type local " + dnatVia(false, false, gwnames::kPorts6), tag);
  }
  // Frames a port sends back to itself (hairpin NAT under br_netfilter) pass the icc=false drops below.
  out += rule("bridge", "isolation", "iifname . oifname @" + std::string(gwnames::kHairpin) + " accept", tag);
  return out;
}

Result<std::string> bridgeRulesText(const BridgeSettings& s) {
  if (!isSafeIfName(s.bridge))
    return fail(Code::InvalidConfig, "bridge name '" + s.bridge + "' cannot be used in a rule");
  if (s.subnets.empty()) return fail(Code::Internal, "no subnet for the bridge's rules");
  const std::string tag = bridgeTag(s.bridge), br = quoted(s.bridge);
  std::string out;
  forwardRules(out, s);
  for (const IpNet& n : s.subnets) {
    if (!n.addr().valid()) return fail(Code::Internal, "invalid subnet for the bridge's rules");
    const std::string f = fam(n.addr()), net = n.masked().str();
    if (s.ipMasq) out += rule("inet", "postrouting", f + " saddr " + net + " oifname != " + br + " masquerade", tag);
    // Hairpin and container-to-published-port: the reply must come back through the host. From the host's
    // 127.0.0.1 too: the container could not answer a loopback source.
    const std::string from = n.addr().isV4() ? "{ " + net + ", 127.0.0.0/8 }" : net;
    out += rule("inet", "postrouting",
                f + " saddr " + from + " " + f + " daddr " + net + " oifname " + br + " ct status dnat masquerade", tag);
  }
  // route_localnet on the bridge (for published ports on 127.0.0.1) would also let a container send to the
  // host's loopback services, or from a loopback source, through the gateway: nothing arrives from the
  // bridge with a 127.0.0.0/8 address. Replies to 127.0.0.1 arrive addressed to the gateway and are
  // restored after this chain.
  out += rule("inet", "localnet", "iifname " + br + " ip daddr 127.0.0.0/8 drop", tag);
  out += rule("inet", "localnet", "iifname " + br + " ip saddr 127.0.0.0/8 drop", tag);
  if (!s.icc) {
    // Every container port of the bridge is in its interface group: no frames between them and any other
    // port (the hairpin set above lets a port's own frames back).
    const std::string g = std::to_string(gwnames::bridgeGroup(s.bridge));
    out += rule("bridge", "isolation", "meta iifgroup " + g + " drop", tag);
    out += rule("bridge", "isolation", "meta oifgroup " + g + " drop", tag);
  }
  return out;
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

std::string addElementsText(const std::vector<Element>& elems, std::string_view tag) {
  std::string out;
  for (const auto& e : elems)
    out += "add element " + e.family + " " + table() + " " + e.set + " { " + e.key + " comment " + quoted(tag) +
           (e.value.empty() ? "" : " : " + e.value) + " }\n";
  return out;
}

std::string deleteElementsText(const std::vector<Element>& elems) {
  std::string out;
  for (const auto& e : elems) {
    const std::string where = e.family + " " + table() + " " + e.set + " { " + e.key;
    out += "add element " + where + (e.value.empty() ? "" : " : " + e.value) + " }\n";
    out += "delete element " + where + " }\n";
  }
  return out;
}

namespace {

const json::Value* obj(const json::Value& v, std::string_view key) {
  const json::Value* m = json::member(v, key);
  return m && m->IsObject() ? m : nullptr;
}
std::string_view strOf(const json::Value* v) {
  return v && v->IsString() ? std::string_view(v->GetString(), v->GetStringLength()) : std::string_view();
}

// Reads the facts we use back from one rule's "expr" list.
void readExprs(const json::Value& exprs, ListedRule& r) {
  if (!exprs.IsArray()) return;
  for (const auto& e : exprs.GetArray()) {
    if (const auto* m = obj(e, "match")) {
      const auto* left = json::member(*m, "left");
      const auto* payload = left ? obj(*left, "payload") : nullptr;
      const auto* right = json::member(*m, "right");
      if (!payload || !right || strOf(json::member(*m, "op")) != "==") continue;
      std::string_view proto = strOf(json::member(*payload, "protocol"));
      std::string_view field = strOf(json::member(*payload, "field"));
      if (field == "dport" && right->IsUint() && right->GetUint() <= 65535) {
        if (proto == "tcp")
          r.proto = Proto::Tcp;
        else if (proto == "udp")
          r.proto = Proto::Udp;
        else if (proto == "sctp")
          r.proto = Proto::Sctp;
        else
          continue;
        r.dport = uint16_t(right->GetUint());
      } else if ((proto == "ip" || proto == "ip6") && right->IsString()) {
        auto ip = IpAddr::parse(strOf(right));
        if (ip && field == "daddr") r.hostIp = ip;
        if (ip && field == "saddr") r.saddr = ip;
      }
    } else if (const auto* d = obj(e, "dnat")) {
      if (auto ip = IpAddr::parse(strOf(json::member(*d, "addr")))) r.dnatAddr = ip;
    }
  }
}

// Calls f for each item of the listing of one of our tables that has the given kind ("rule", "map", ...).
template <typename F>
Result<void> forEachItem(std::string_view jsonText, std::string_view kind, F&& f) {
  json::Doc doc;
  TRY_VOID(json::parseInto(doc, jsonText, "nftables listing"));
  const auto* items = json::member(doc, "nftables");
  if (!items || !items->IsArray()) return fail(Code::Internal, "nftables listing has no 'nftables' array");
  for (const auto& item : items->GetArray())
    if (const auto* o = obj(item, kind); o && strOf(json::member(*o, "table")) == kTable) f(*o);
  return {};
}

}  // namespace

Result<std::vector<ListedRule>> parseListing(std::string_view jsonText) {
  std::vector<ListedRule> out;
  TRY_VOID(forEachItem(jsonText, "rule", [&](const json::Value& r) {
    const auto* handle = json::member(r, "handle");
    if (!handle || !handle->IsUint64()) return;
    ListedRule lr;
    lr.family = std::string(strOf(json::member(r, "family")));
    lr.chain = std::string(strOf(json::member(r, "chain")));
    lr.handle = handle->GetUint64();
    lr.comment = std::string(strOf(json::member(r, "comment")));
    if (const auto* e = json::member(r, "expr")) readExprs(*e, lr);
    out.push_back(std::move(lr));
  }));
  return out;
}

Result<std::vector<std::string>> parseChains(std::string_view jsonText) {
  std::vector<std::string> out;
  TRY_VOID(forEachItem(jsonText, "chain",
                       [&](const json::Value& c) { out.emplace_back(strOf(json::member(c, "name"))); }));
  return out;
}

std::string deleteText(const std::vector<ListedRule>& rules) {
  std::string out;
  for (const auto& r : rules) {
    // Family and chain came from the kernel; only our own two tables are ever named.
    if ((r.family != "inet" && r.family != "bridge") || r.chain.empty() || r.chain.size() > 64) continue;
    if (!std::all_of(r.chain.begin(), r.chain.end(), [](char c) { return std::isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.'; }))
      continue;
    out += "delete rule " + r.family + " " + table() + " " + r.chain + " handle " + std::to_string(r.handle) + "\n";
  }
  return out;
}

}  // namespace ovl::gwbridge
