#include "nfnl/chain_probe.hpp"

#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include "metrics/tally.hpp"
#include "nfnl/batch.hpp"
#include "nfnl/expr.hpp"
#include "nfnl/socket.hpp"
#include "nfnl/wire.hpp"

namespace ovl::nfnl {
namespace {

std::optional<Family> familyNamed(std::string_view f) {
  for (auto fam : {Family::Inet, Family::Ip, Family::Ip6, Family::Bridge})
    if (familyName(fam) == f) return fam;
  return std::nullopt;
}

}  // namespace

Result<std::optional<std::string>> findChainComment(std::string_view family, std::string_view table,
                                                    std::string_view chain) {
  metrics::PhaseTimer timer(metrics::Phase::Nft);
  const auto fam = familyNamed(family);
  if (!fam) return fail(Code::Internal, "nftables family '" + std::string(family) + "' is unknown");
  const std::string what = "asking for chain " + std::string(family) + " " + std::string(table) + " " +
                           std::string(chain);
  Writer w;
  w.begin(static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETCHAIN), NLM_F_REQUEST, 1,
          static_cast<uint8_t>(*fam));
  w.putStr(NFTA_CHAIN_TABLE, table);
  w.putStr(NFTA_CHAIN_NAME, chain);
  w.end();
  auto sock = Socket::open();
  if (!sock) return fail(std::move(sock.error()).context(what));
  // One answer: the chain (NFT_MSG_NEWCHAIN), or ENOENT when it or its table does not exist.
  auto answer = sock->get(w.bytes());
  if (!answer) return fail(std::move(answer.error()).context(what));
  if (!*answer) return std::nullopt;
  return commentOf(Attrs::ofMessage(**answer, NFTA_CHAIN_MAX).raw(NFTA_CHAIN_USERDATA));
}

}  // namespace ovl::nfnl
