#include "vxlan/arp_reports.hpp"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter_bridge.h>

#include <algorithm>

namespace ovl::vxlan {
namespace {

constexpr auto kFamily = nfnl::Family::Bridge;
constexpr std::string_view kPorts = "ports";

std::vector<nfnl::Expr> reportRule() {
  using namespace nfnl::expr;
  // Broadcast requests only: the bridge forwards a unicast one (a kernel re-checking a stale entry) by its
  // FDB entry even when neigh_suppress answered it, and that one reaches the peer as it always did.
  return {meta(NFT_META_OIFNAME, kReg1),
          lookup(kPorts, kReg1, false),
          payload(NFT_PAYLOAD_LL_HEADER, 0, 6, kReg1),
          cmp(kReg1, NFT_CMP_EQ, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}),  // ether daddr ff:ff:ff:ff:ff:ff
          payload(NFT_PAYLOAD_LL_HEADER, 12, 2, kReg1),
          cmp(kReg1, NFT_CMP_EQ, {0x08, 0x06}),  // ether type arp
          payload(NFT_PAYLOAD_NETWORK_HEADER, 6, 2, kReg1),
          cmp(kReg1, NFT_CMP_EQ, {0x00, 0x01}),  // arp operation request
          log(kArpLogGroup, kArpSnaplen),
          verdict(NF_DROP)};
}

// An interface name as a set key: IFNAMSIZ bytes, NUL-padded.
nfnl::Element portElement(std::string_view port) {
  nfnl::Bytes key(16, 0);
  std::copy_n(port.begin(), std::min<size_t>(port.size(), 15), key.begin());
  return nfnl::Element{std::move(key), {}, {}};
}

}  // namespace

void addArpReports(nfnl::Batch& b) {
  constexpr uint32_t kIfname = 41;  // nft's datatype
  b.addTable(kFamily, kArpTable);
  // User data as nft writes it (a TLV: type 0, the key's byte order, host): `nft list` prints the names.
  b.addSet(kFamily, kArpTable,
           nfnl::SetSpec{.name = std::string(kPorts), .keyType = kIfname, .keyLen = 16, .userdata = {0, 4, 1, 0, 0, 0}});
  b.addChain(kFamily, kArpTable, kArpChain, nfnl::Hook{NF_BR_FORWARD, 0, "filter", NF_ACCEPT});
  b.flushChain(kFamily, kArpTable, kArpChain);
  b.addRule(kFamily, kArpTable, kArpChain, reportRule(), kArpRuleComment);
}

void addArpReportPort(nfnl::Batch& b, std::string_view port) {
  b.addElements(kFamily, kArpTable, kPorts, {portElement(port)});
}

void addArpReportPortRemoved(nfnl::Batch& b, std::string_view port) {
  b.deleteElements(kFamily, kArpTable, kPorts, {portElement(port)});
}

void addArpReportsRemoved(nfnl::Batch& b) { b.deleteTable(kFamily, kArpTable); }

}  // namespace ovl::vxlan
