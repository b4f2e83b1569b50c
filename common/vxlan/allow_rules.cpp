#include "vxlan/allow_rules.hpp"

// glibc's netinet/in.h before the kernel's headers, which then leave out what it defines.
#include <netinet/in.h>
#include <sys/socket.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

namespace ovl::vxlan {

std::set<IpAddr> AllowListing::vteps(uint32_t vni) const {
  std::set<IpAddr> out;
  for (const auto& e : entries)
    if (e.vni == vni) out.insert(e.vtep);
  return out;
}

AllowPlan planAllow(const AllowListing& have, uint32_t vni, const std::set<IpAddr>& want, bool exact) {
  AllowPlan p;
  const std::set<IpAddr> now = have.vteps(vni);
  for (const auto& ip : want)
    if (!now.count(ip)) p.add.push_back({ip, vni});
  if (exact)
    for (const auto& ip : now)
      if (!want.count(ip)) p.remove.push_back({ip, vni});
  return p;
}

namespace {

using nfnl::Bytes;
constexpr auto kFamily = nfnl::Family::Inet;

// nft's user data for "typeof <family> saddr . @th,96,24": TLVs (type, length, value; numbers in host
// order) that `nft list` reads to print the key as it was written. The kernel only stores them.
void tlv(Bytes& out, uint8_t type, const Bytes& value) {
  out.push_back(type);
  out.push_back(static_cast<uint8_t>(value.size()));
  out.insert(out.end(), value.begin(), value.end());
}
Bytes u32(uint32_t v) { return {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)}; }

Bytes typeofUdata(bool v6) {
  constexpr uint8_t kPayloadExpr = 7, kConcatExpr = 13;                    // nft's expression kinds
  constexpr uint8_t kProtoIp = 12, kProtoIp6 = 13, kSaddrIp = 11, kSaddrIp6 = 8;  // header template, field
  Bytes saddr, saddrDesc, th, thDesc, parts, key, out;
  tlv(saddrDesc, 0, u32(v6 ? kProtoIp6 : kProtoIp));
  tlv(saddrDesc, 1, u32(v6 ? kSaddrIp6 : kSaddrIp));
  tlv(saddr, 0, u32(kPayloadExpr));
  tlv(saddr, 1, saddrDesc);
  tlv(thDesc, 0, u32(0));     // no protocol: raw
  tlv(thDesc, 1, u32(0));
  tlv(thDesc, 2, u32(3));     // base: transport header
  tlv(thDesc, 3, u32(96));    // offset, bits
  tlv(thDesc, 4, u32(24));    // length, bits
  tlv(th, 0, u32(kPayloadExpr));
  tlv(th, 1, thDesc);
  tlv(parts, 0, saddr);
  tlv(parts, 1, th);
  tlv(key, 0, u32(kConcatExpr));
  tlv(key, 1, parts);
  tlv(out, 0, u32(0));  // key byte order: not set for a concatenation
  tlv(out, 3, key);     // the key's typeof
  return out;
}

}  // namespace

nfnl::SetSpec allowSet(bool v6) {
  constexpr uint32_t kIpv4Addr = 7, kIpv6Addr = 8, kInteger = 4, kTypeBits = 6;  // nft's datatypes
  return nfnl::SetSpec{.name = v6 ? "allow6" : "allow4",
                       .flags = 0,
                       .keyType = (v6 ? kIpv6Addr : kIpv4Addr) << kTypeBits | kInteger,
                       .keyLen = v6 ? 20u : 8u,
                       .dataType = 0,
                       .dataLen = 0,
                       .userdata = typeofUdata(v6)};
}

namespace {

std::vector<nfnl::Element> elementsOf(const std::vector<AllowEntry>& entries, bool v6) {
  std::vector<nfnl::Element> out;
  for (const auto& e : entries)
    if (e.vtep.isV6() == v6) out.push_back(allowElement(e));
  return out;
}

// udp dport <port> <family> saddr . @th,96,24 != @allow<family> counter drop
std::vector<nfnl::Expr> dropRule(uint16_t port, bool v6) {
  namespace x = nfnl::expr;
  return {x::meta(NFT_META_L4PROTO, x::kReg1),
          x::cmp(x::kReg1, NFT_CMP_EQ, {IPPROTO_UDP}),
          x::payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, x::kReg1),
          x::cmp(x::kReg1, NFT_CMP_EQ, nfnl::be16Bytes(port)),
          x::meta(NFT_META_NFPROTO, x::kReg1),
          x::cmp(x::kReg1, NFT_CMP_EQ, {uint8_t(v6 ? NFPROTO_IPV6 : NFPROTO_IPV4)}),
          v6 ? x::payload(NFT_PAYLOAD_NETWORK_HEADER, 8, 16, x::kReg1) : x::payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, x::kReg1),
          x::payload(NFT_PAYLOAD_TRANSPORT_HEADER, 12, 3, v6 ? x::kReg2 : x::kReg32_01),
          x::lookup(v6 ? "allow6" : "allow4", x::kReg1, true),
          x::counter(),
          x::verdict(NF_DROP)};
}

}  // namespace

nfnl::Element allowElement(const AllowEntry& e) {
  Bytes key(e.vtep.bytes(), e.vtep.bytes() + e.vtep.byteLen());
  key.insert(key.end(), {uint8_t(e.vni >> 16), uint8_t(e.vni >> 8), uint8_t(e.vni), 0});
  return {.key = std::move(key), .data = {}, .comment = {}};
}

void addAllowTable(nfnl::Batch& b) {
  b.addTable(kFamily, kAllowTable);
  b.addSet(kFamily, kAllowTable, allowSet(false));
  b.addSet(kFamily, kAllowTable, allowSet(true));
}

void addAllowPlan(nfnl::Batch& b, const AllowPlan& plan) {
  addAllowTable(b);
  for (bool v6 : {false, true}) b.deleteElements(kFamily, kAllowTable, v6 ? "allow6" : "allow4", elementsOf(plan.remove, v6));
  for (bool v6 : {false, true}) b.addElements(kFamily, kAllowTable, v6 ? "allow6" : "allow4", elementsOf(plan.add, v6));
}

void addEnforce(nfnl::Batch& b, uint16_t port) {
  addAllowTable(b);
  b.addChain(kFamily, kAllowTable, kAllowChain, nfnl::Hook{NF_INET_LOCAL_IN, 0, "filter", NF_ACCEPT});
  b.flushChain(kFamily, kAllowTable, kAllowChain);
  for (bool v6 : {false, true}) b.addRule(kFamily, kAllowTable, kAllowChain, dropRule(port, v6), kAllowRuleComment);
}

void addRelax(nfnl::Batch& b) { b.deleteChain(kFamily, kAllowTable, kAllowChain); }

AllowListing readAllowListing(const nfnl::Listing& l) {
  AllowListing out;
  for (const auto& c : l.chains)
    if (c.table == kAllowTable && c.name == kAllowChain && c.base) out.enforced = true;
  for (const auto& s : l.sets) {
    if (s.table != kAllowTable || (s.name != "allow4" && s.name != "allow6")) continue;
    const bool v6 = s.name == "allow6";
    for (const auto& e : s.elements) {
      const auto parts = nfnl::splitConcat(e.key, {v6 ? 16u : 4u, 3u});
      if (parts.size() != 2 || e.key.size() != (v6 ? 20u : 8u)) continue;
      const uint32_t vni = uint32_t(parts[1][0]) << 16 | uint32_t(parts[1][1]) << 8 | parts[1][2];
      out.entries.insert({IpAddr::fromBytes(v6 ? AF_INET6 : AF_INET, parts[0].data()), vni});
    }
  }
  return out;
}

}  // namespace ovl::vxlan
