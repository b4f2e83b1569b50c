#include "nfnl/match.hpp"

// glibc's netinet/in.h before the kernel's headers, which then leave out what it defines.
#include <net/if.h>
#include <netinet/in.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>

#include <cstring>

namespace ovl::nfnl::match {
namespace {

namespace x = expr;

Bytes hostU32(uint32_t v) {
  Bytes b(4);
  std::memcpy(b.data(), &v, 4);
  return b;
}

// Offsets of the addresses in the IPv4 and IPv6 headers.
uint32_t addrOffset(bool v6, bool daddr) { return v6 ? (daddr ? 24 : 8) : (daddr ? 16 : 12); }

}  // namespace

Exprs nfproto(bool v6) {
  return {x::meta(NFT_META_NFPROTO, x::kReg1), x::cmp(x::kReg1, NFT_CMP_EQ, {uint8_t(v6 ? NFPROTO_IPV6 : NFPROTO_IPV4)})};
}

Exprs ifname(bool out, std::string_view name, bool equal) {
  Bytes padded(name.begin(), name.end());
  padded.resize(IFNAMSIZ, 0);
  return {x::meta(out ? NFT_META_OIFNAME : NFT_META_IIFNAME, x::kReg1),
          x::cmp(x::kReg1, equal ? NFT_CMP_EQ : NFT_CMP_NEQ, padded)};
}

Exprs prefix(const IpNet& net, bool daddr) {
  const bool v6 = net.addr().isV6();
  const int bits = net.prefix();
  if (bits <= 0) return {};
  const IpAddr base = net.network();
  const uint32_t off = addrOffset(v6, daddr);
  if (bits % 8 == 0) {  // whole bytes: load only those
    const auto n = uint32_t(bits / 8);
    return {x::payload(NFT_PAYLOAD_NETWORK_HEADER, off, n, x::kReg1),
            x::cmp(x::kReg1, NFT_CMP_EQ, Bytes(base.bytes(), base.bytes() + n))};
  }
  const auto len = uint32_t(base.byteLen());
  Bytes mask(len, 0);
  for (int i = 0; i < bits; ++i) mask[size_t(i / 8)] |= uint8_t(0x80 >> (i % 8));
  return {x::payload(NFT_PAYLOAD_NETWORK_HEADER, off, len, x::kReg1),
          x::bitwise(x::kReg1, x::kReg1, mask, Bytes(len, 0)),
          x::cmp(x::kReg1, NFT_CMP_EQ, Bytes(base.bytes(), base.bytes() + len))};
}

Exprs notAddr(const IpAddr& a, bool daddr) {
  return {x::payload(NFT_PAYLOAD_NETWORK_HEADER, addrOffset(a.isV6(), daddr), uint32_t(a.byteLen()), x::kReg1),
          x::cmp(x::kReg1, NFT_CMP_NEQ, Bytes(a.bytes(), a.bytes() + a.byteLen()))};
}

Exprs fibDaddrLocal() {
  return {x::fib(NFT_FIB_RESULT_ADDRTYPE, NFTA_FIB_F_DADDR, x::kReg1), x::cmp(x::kReg1, NFT_CMP_EQ, hostU32(RTN_LOCAL))};
}

Exprs ctBits(uint32_t key, uint32_t bits) {
  return {x::ct(key, x::kReg1), x::bitwise(x::kReg1, x::kReg1, hostU32(bits), hostU32(0)),
          x::cmp(x::kReg1, NFT_CMP_NEQ, hostU32(0))};
}

Exprs group(bool out, uint32_t g) {
  return {x::meta(out ? NFT_META_OIFGROUP : NFT_META_IIFGROUP, x::kReg1), x::cmp(x::kReg1, NFT_CMP_EQ, hostU32(g))};
}

Exprs dnatViaMap(bool v6, bool byDaddr, std::string_view map, const Exprs& first) {
  // Registers as nft allocates them: the key's parts one after another in 4-byte registers from reg 1;
  // the value (address . port) back into reg 1, its port in the register after the address.
  Exprs out = nfproto(v6) + first;
  uint32_t l4 = x::kReg1, port = x::kReg32_01;
  if (byDaddr) {
    out.push_back(x::payload(NFT_PAYLOAD_NETWORK_HEADER, addrOffset(v6, true), v6 ? 16 : 4, x::kReg1));
    l4 = v6 ? x::kReg2 : x::kReg32_01;
    port = v6 ? x::kReg32_05 : x::kReg32_02;
  }
  out.push_back(x::meta(NFT_META_L4PROTO, l4));
  out.push_back(x::payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, port));
  out.push_back(x::lookup(map, x::kReg1, false, x::kReg1));
  out.push_back(x::nat(NFT_NAT_DNAT, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4, x::kReg1, v6 ? x::kReg2 : x::kReg32_01));
  return out;
}

}  // namespace ovl::nfnl::match
