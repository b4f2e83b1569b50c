#include "vxlan/arp_hold.hpp"

// glibc's netinet/in.h before the kernel's headers, which then leave out what it defines.
#include <netinet/in.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter_bridge.h>

#include "nfnl/listing.hpp"
#include "vxlan/names.hpp"

namespace ovl::vxlan {
namespace {

constexpr auto kFamily = nfnl::Family::Bridge;
constexpr std::string_view kChain = "hold";
constexpr std::string_view kSet = "held";

nfnl::SetSpec heldSet() {
  constexpr uint32_t kIfname = 41, kIpv4Addr = 7, kTypeBits = 6;  // nft's datatypes
  return nfnl::SetSpec{.name = std::string(kSet),
                       .flags = NFT_SET_TIMEOUT | NFT_SET_EVAL,
                       .keyType = kIfname << kTypeBits | kIpv4Addr,
                       .keyLen = 16 + 4,
                       .dataType = 0,
                       .dataLen = 0,
                       .userdata = {},
                       .timeoutMs = kArpHoldMs,
                       .size = 65536};
}

}  // namespace

std::vector<nfnl::Expr> arpHoldRule(bool hold) {
  namespace x = nfnl::expr;
  std::vector<nfnl::Expr> match{
      x::meta(NFT_META_OIFNAME, x::kReg1),
      x::cmp(x::kReg1, NFT_CMP_EQ, nfnl::Bytes(kVxlanPrefix.begin(), kVxlanPrefix.end())),
      x::payload(NFT_PAYLOAD_LL_HEADER, 0, 6, x::kReg1),
      x::cmp(x::kReg1, NFT_CMP_EQ, nfnl::Bytes(6, 0xff)),
      x::payload(NFT_PAYLOAD_LL_HEADER, 12, 2, x::kReg1),
      x::cmp(x::kReg1, NFT_CMP_EQ, {0x08, 0x06}),
      x::payload(NFT_PAYLOAD_NETWORK_HEADER, 6, 2, x::kReg1),
      x::cmp(x::kReg1, NFT_CMP_EQ, {0x00, 0x01}),
      // The key: the VXLAN port's name (16 bytes, register 1) . the asked address (register 2).
      x::meta(NFT_META_OIFNAME, x::kReg1),
      x::payload(NFT_PAYLOAD_NETWORK_HEADER, 24, 4, x::kReg2),
  };
  if (!hold) return match + std::vector<nfnl::Expr>{x::lookup(kSet, x::kReg1, false), x::verdict(NF_ACCEPT)};
  return match + std::vector<nfnl::Expr>{x::dynsetAdd(kSet, x::kReg1), x::counter(), x::verdict(NF_DROP)};
}

void addArpHold(nfnl::Batch& b) {
  b.addTable(kFamily, kArpHoldTable);
  b.addSet(kFamily, kArpHoldTable, heldSet());
  b.addChain(kFamily, kArpHoldTable, kChain, nfnl::Hook{NF_BR_FORWARD, 0, "filter", NF_ACCEPT});
  b.flushChain(kFamily, kArpHoldTable, kChain);
  b.addRule(kFamily, kArpHoldTable, kChain, arpHoldRule(false), "ovl-arphold: asked again within 1 s: let it flood");
  b.addRule(kFamily, kArpHoldTable, kChain, arpHoldRule(true), "ovl-arphold: first ask for an unknown address");
}

Result<void> installArpHold() {
  nfnl::Batch b;
  addArpHold(b);
  return b.commit("installing the ARP hold");
}

Result<void> removeArpHold() {
  if (!TRY(nfnl::listTable(kFamily, kArpHoldTable))) return {};
  nfnl::Batch b;
  b.deleteTable(kFamily, kArpHoldTable);
  return b.commit("removing the ARP hold");
}

}  // namespace ovl::vxlan
