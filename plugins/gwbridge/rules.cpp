#include "gwbridge/rules.hpp"

#include <algorithm>
#include <cstdio>

#include "cni/json.hpp"
#include "gwbridge/config.hpp"

namespace ovl::gwbridge {
namespace {

std::string fam(const IpAddr& a) { return a.isV4() ? "ip" : "ip6"; }
std::string nfproto(const IpAddr& a) { return a.isV4() ? "ipv4" : "ipv6"; }
std::string addrPort(const IpAddr& a, uint16_t port) {
  return (a.isV4() ? a.str() : "[" + a.str() + "]") + ":" + std::to_string(port);
}
std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// The chains of "inet ovl_gwbridge": name, type, hook and priority.
constexpr std::string_view kInetChains[] = {
    "prerouting { type nat hook prerouting priority dstnat;",
    "output { type nat hook output priority -100;",
    "postrouting { type nat hook postrouting priority srcnat;",
    "forward { type filter hook forward priority filter;",
    // Before NAT (dstnat is -100): sees the addresses a packet arrives with, not those conntrack restores.
    "localnet { type filter hook prerouting priority -150;",
};

std::string rule(std::string_view family, std::string_view chain, std::string_view body, std::string_view tag) {
  return "add rule " + std::string(family) + " " + std::string(kTable) + " " + std::string(chain) + " " +
         std::string(body) + " comment " + quoted(tag) + "\n";
}

// dnat rules (prerouting and output) for one mapping and one container address.
void dnatRules(std::string& out, const PortMapping& m, const IpNet& c, const std::string& tag) {
  const IpAddr& a = c.addr();
  std::string l4 = std::string(protoName(m.proto)) + " dport " + std::to_string(m.hostPort);
  std::string to = "dnat " + fam(a) + " to " + addrPort(a, m.containerPort);
  if (m.hostIp) {
    std::string dst = fam(a) + " daddr " + m.hostIp->str() + " ";
    out += rule("inet", "prerouting", dst + l4 + " " + to, tag);
    out += rule("inet", "output", dst + l4 + " " + to, tag);
    return;
  }
  std::string local = "meta nfproto " + nfproto(a) + " fib daddr type local ";
  // IPv4 loopback is mapped too (route_localnet on the bridge, masquerade, localnetGuard); IPv6 has no
  // route_localnet, so ::1 is not.
  std::string notLoopback = a.isV4() ? "" : "ip6 daddr != ::1 ";
  out += rule("inet", "prerouting", local + l4 + " " + to, tag);
  out += rule("inet", "output", local + notLoopback + l4 + " " + to, tag);
}

// Routed traffic to the bridge (inet forward). Replies and connections DNAT-ed by a port mapping pass; anything
// else from outside the bridge is dropped. With icc=false so is what the host routes from the bridge back into
// it to or from this container (sent to the gateway's MAC, it never crosses the bridge-family chain). Every
// attachment carries its own copy of the bridge-wide rules, so they live exactly as long as the bridge has an
// attachment and any order of the copies means the same: each copy's accepts come before its drops.
void forwardRules(std::string& out, const AttachmentRules& a, const std::string& tag) {
  const std::string toBridge = "oifname " + quoted(a.bridge) + " ";
  out += rule("inet", "forward", toBridge + "ct state established,related accept", tag);
  out += rule("inet", "forward", toBridge + "ct status dnat accept", tag);
  out += rule("inet", "forward", toBridge + "iifname != " + quoted(a.bridge) + " drop", tag);
  if (a.icc) return;
  const std::string within = "iifname " + quoted(a.bridge) + " " + toBridge;
  for (const IpNet& c : a.addrs) {
    out += rule("inet", "forward", within + fam(c.addr()) + " saddr " + c.addr().str() + " drop", tag);
    out += rule("inet", "forward", within + fam(c.addr()) + " daddr " + c.addr().str() + " drop", tag);
  }
}

// route_localnet on the bridge (for published ports on 127.0.0.1) would also let a container send to the
// host's loopback services, or from a loopback source, through the gateway: nothing arrives from the bridge
// with a 127.0.0.0/8 address. Replies to 127.0.0.1 arrive addressed to the gateway and are restored after
// this chain. A bridge-wide rule pair: every IPv4 attachment carries its own copy, as the forward filter.
void localnetGuard(std::string& out, const AttachmentRules& a, const std::string& tag) {
  const std::string fromBridge = "iifname " + quoted(a.bridge) + " ";
  out += rule("inet", "localnet", fromBridge + "ip daddr 127.0.0.0/8 drop", tag);
  out += rule("inet", "localnet", fromBridge + "ip saddr 127.0.0.0/8 drop", tag);
}

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

}  // namespace


std::string ensureTablesText() {
  const std::string t(kTable);
  std::string out = "add table inet " + t + "\n";
  for (std::string_view chain : kInetChains)
    out += "add chain inet " + t + " " + std::string(chain) + " policy accept; }\n";
  return out + "add table bridge " + t + "\n" + "add chain bridge " + t +
         " forward { type filter hook forward priority 0; policy accept; }\n";
}

Result<std::string> ruleText(const AttachmentRules& a) {
  // Everything that reaches the rule text is checked here, whatever the caller did.
  if (!isValidIdentifier(a.containerId))
    return fail(Code::InvalidEnv, "container ID '" + a.containerId + "' cannot be used in a rule");
  if (!isSafeIfName(a.bridge) || !isSafeIfName(a.hostVeth))
    return fail(Code::InvalidConfig,
                "interface names '" + a.bridge + "', '" + a.hostVeth + "' cannot be used in a rule");
  if (a.addrs.empty()) return fail(Code::Internal, "no container address for the rules");
  const std::string tag = ruleTag(a.network, a.containerId, a.ifName);
  std::string out;
  for (const IpNet& c : a.addrs) {
    if (!c.addr().valid()) return fail(Code::Internal, "invalid container address for the rules");
    const std::string f = fam(c.addr());
    for (const auto& m : mappingsForFamily(a.ports, c.family())) dnatRules(out, m, c, tag);
    if (a.ipMasq)
      out += rule("inet", "postrouting",
                  f + " saddr " + c.addr().str() + " oifname != " + quoted(a.bridge) + " masquerade", tag);
    if (!mappingsForFamily(a.ports, c.family()).empty()) {
      // Hairpin and container-to-published-port: the reply must come back through the host. From the host's
      // 127.0.0.1 too: the container could not answer a loopback source.
      const std::string from = c.addr().isV4() ? "{ " + c.masked().str() + ", 127.0.0.0/8 }" : c.masked().str();
      out += rule("inet", "postrouting",
                  f + " saddr " + from + " " + f + " daddr " + c.addr().str() + " oifname " + quoted(a.bridge) +
                      " ct status dnat masquerade",
                  tag);
    }
  }
  forwardRules(out, a, tag);
  if (std::any_of(a.addrs.begin(), a.addrs.end(), [](const IpNet& c) { return c.addr().isV4(); }))
    localnetGuard(out, a, tag);
  if (!a.icc) {
    // Frames a port sends back to itself (hairpin under br_netfilter) stay allowed.
    out +=
        rule("bridge", "forward", "iifname " + quoted(a.hostVeth) + " oifname != " + quoted(a.hostVeth) + " drop", tag);
    out +=
        rule("bridge", "forward", "oifname " + quoted(a.hostVeth) + " iifname != " + quoted(a.hostVeth) + " drop", tag);
  }
  return out;
}

Result<std::vector<ListedRule>> parseListing(std::string_view jsonText) {
  json::Doc doc;
  TRY_VOID(json::parseInto(doc, jsonText, "nftables listing"));
  const auto* items = json::member(doc, "nftables");
  if (!items || !items->IsArray()) return fail(Code::Internal, "nftables listing has no 'nftables' array");
  std::vector<ListedRule> out;
  for (const auto& item : items->GetArray()) {
    const auto* r = obj(item, "rule");
    if (!r || strOf(json::member(*r, "table")) != kTable) continue;
    const auto* handle = json::member(*r, "handle");
    if (!handle || !handle->IsUint64()) continue;
    ListedRule lr;
    lr.family = std::string(strOf(json::member(*r, "family")));
    lr.chain = std::string(strOf(json::member(*r, "chain")));
    lr.handle = handle->GetUint64();
    lr.comment = std::string(strOf(json::member(*r, "comment")));
    if (const auto* e = json::member(*r, "expr")) readExprs(*e, lr);
    out.push_back(std::move(lr));
  }
  return out;
}

std::string deleteText(const std::vector<ListedRule>& rules) {
  std::string out;
  for (const auto& r : rules) {
    // Family and chain came from the kernel; only our own two tables are ever named.
    if ((r.family != "inet" && r.family != "bridge") || !isSafeIfName(r.chain)) continue;
    out += "delete rule " + r.family + " " + std::string(kTable) + " " + r.chain + " handle " +
           std::to_string(r.handle) + "\n";
  }
  return out;
}

}  // namespace ovl::gwbridge
