#include "nfnl/batch.hpp"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <cstring>

#include "metrics/tally.hpp"
#include "nfnl/socket.hpp"
#include "util/log.hpp"

namespace ovl::nfnl {
namespace {

constexpr uint32_t kFirstSeq = 1;  // the batch's begin message is 0; commands follow

uint16_t nftType(uint16_t msg) { return static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | msg); }

std::string path(Family f, std::string_view table, std::string_view name = {}) {
  return std::string(familyName(f)) + " " + std::string(table) + (name.empty() ? "" : " " + std::string(name));
}

}  // namespace

std::string_view familyName(Family f) {
  switch (f) {
    case Family::Inet: return "inet";
    case Family::Ip: return "ip";
    case Family::Ip6: return "ip6";
    case Family::Bridge: return "bridge";
  }
  return "?";
}

std::optional<Family> familyOf(uint8_t nfproto) {
  switch (nfproto) {
    case NFPROTO_INET: return Family::Inet;
    case NFPROTO_IPV4: return Family::Ip;
    case NFPROTO_IPV6: return Family::Ip6;
    case NFPROTO_BRIDGE: return Family::Bridge;
    default: return std::nullopt;
  }
}

void Batch::command(uint16_t msg, uint16_t flags, Family f, std::string text) {
  const auto seq = static_cast<uint32_t>(kFirstSeq + described_.size());
  w_.begin(nftType(msg), static_cast<uint16_t>(NLM_F_REQUEST | NLM_F_ACK | flags), seq, static_cast<uint8_t>(f));
  described_.push_back(std::move(text));
}

void Batch::addTable(Family f, std::string_view table) {
  command(NFT_MSG_NEWTABLE, NLM_F_CREATE, f, "add table " + path(f, table));
  w_.putStr(NFTA_TABLE_NAME, table);
  w_.end();
}

void Batch::deleteTable(Family f, std::string_view table) {
  command(NFT_MSG_DELTABLE, 0, f, "delete table " + path(f, table));
  w_.putStr(NFTA_TABLE_NAME, table);
  w_.end();
}

void Batch::addChain(Family f, std::string_view table, std::string_view chain, const std::optional<Hook>& hook,
                     std::string_view comment) {
  command(NFT_MSG_NEWCHAIN, NLM_F_CREATE, f, "add chain " + path(f, table, chain));
  w_.putStr(NFTA_CHAIN_TABLE, table);
  w_.putStr(NFTA_CHAIN_NAME, chain);
  if (hook) {
    const size_t h = w_.nest(NFTA_CHAIN_HOOK);
    w_.putBe32(NFTA_HOOK_HOOKNUM, hook->num);
    w_.putBe32(NFTA_HOOK_PRIORITY, static_cast<uint32_t>(hook->priority));
    w_.close(h);
    w_.putBe32(NFTA_CHAIN_POLICY, hook->policy);
    w_.putStr(NFTA_CHAIN_TYPE, hook->type);
  }
  if (!comment.empty()) w_.put(NFTA_CHAIN_USERDATA, commentUdata(comment));
  w_.end();
}

void Batch::flushChain(Family f, std::string_view table, std::string_view chain) {
  command(NFT_MSG_DELRULE, 0, f, "flush chain " + path(f, table, chain));
  w_.putStr(NFTA_RULE_TABLE, table);
  w_.putStr(NFTA_RULE_CHAIN, chain);
  w_.end();
}

void Batch::deleteChain(Family f, std::string_view table, std::string_view chain) {
  command(NFT_MSG_DELCHAIN, 0, f, "delete chain " + path(f, table, chain));
  w_.putStr(NFTA_CHAIN_TABLE, table);
  w_.putStr(NFTA_CHAIN_NAME, chain);
  w_.end();
}

void Batch::addSet(Family f, std::string_view table, const SetSpec& s) {
  command(NFT_MSG_NEWSET, NLM_F_CREATE, f, "add set " + path(f, table, s.name));
  w_.putStr(NFTA_SET_TABLE, table);
  w_.putStr(NFTA_SET_NAME, s.name);
  w_.putBe32(NFTA_SET_FLAGS, s.flags);
  w_.putBe32(NFTA_SET_KEY_TYPE, s.keyType);
  w_.putBe32(NFTA_SET_KEY_LEN, s.keyLen);
  if (s.flags & NFT_SET_MAP) {
    w_.putBe32(NFTA_SET_DATA_TYPE, s.dataType);
    w_.putBe32(NFTA_SET_DATA_LEN, s.dataLen);
  }
  w_.putBe32(NFTA_SET_ID, static_cast<uint32_t>(described_.size()));
  if (!s.userdata.empty()) w_.put(NFTA_SET_USERDATA, s.userdata);
  w_.end();
}

void Batch::elements(uint16_t msg, uint16_t flags, Family f, std::string_view table, std::string_view set,
                     const std::vector<Element>& elems, std::string_view verb) {
  if (elems.empty()) return;
  command(msg, flags, f, std::string(verb) + " element " + path(f, table, set));
  w_.putStr(NFTA_SET_ELEM_LIST_TABLE, table);
  w_.putStr(NFTA_SET_ELEM_LIST_SET, set);
  const size_t list = w_.nest(NFTA_SET_ELEM_LIST_ELEMENTS);
  for (const auto& e : elems) {
    const size_t item = w_.nest(NFTA_LIST_ELEM);
    w_.putValue(NFTA_SET_ELEM_KEY, e.key);
    if (!e.data.empty()) w_.putValue(NFTA_SET_ELEM_DATA, e.data);
    if (!e.comment.empty()) w_.put(NFTA_SET_ELEM_USERDATA, commentUdata(e.comment));
    w_.close(item);
  }
  w_.close(list);
  w_.end();
}

void Batch::addElements(Family f, std::string_view table, std::string_view set, const std::vector<Element>& elems) {
  elements(NFT_MSG_NEWSETELEM, NLM_F_CREATE, f, table, set, elems, "add");
}

void Batch::deleteElements(Family f, std::string_view table, std::string_view set, const std::vector<Element>& elems) {
  elements(NFT_MSG_DELSETELEM, 0, f, table, set, elems, "delete");
}

void Batch::addRule(Family f, std::string_view table, std::string_view chain, const std::vector<Expr>& exprs,
                    std::string_view comment) {
  command(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, f, "add rule " + path(f, table, chain));
  w_.putStr(NFTA_RULE_TABLE, table);
  w_.putStr(NFTA_RULE_CHAIN, chain);
  const size_t list = w_.nest(NFTA_RULE_EXPRESSIONS);
  for (const auto& e : exprs) {
    const size_t item = w_.nest(NFTA_LIST_ELEM);
    w_.putStr(NFTA_EXPR_NAME, e.name);
    const size_t data = w_.nest(NFTA_EXPR_DATA);
    w_.raw(e.data);
    w_.close(data);
    w_.close(item);
  }
  w_.close(list);
  if (!comment.empty()) w_.put(NFTA_RULE_USERDATA, commentUdata(comment));
  w_.end();
}

void Batch::deleteRule(Family f, std::string_view table, std::string_view chain, uint64_t handle) {
  command(NFT_MSG_DELRULE, 0, f, "delete rule " + path(f, table, chain) + " handle " + std::to_string(handle));
  w_.putStr(NFTA_RULE_TABLE, table);
  w_.putStr(NFTA_RULE_CHAIN, chain);
  w_.putBe64(NFTA_RULE_HANDLE, handle);
  w_.end();
}

Result<void> Batch::commit(std::string_view what) const {
  if (empty()) return {};
  metrics::PhaseTimer timer(metrics::Phase::Nft);
  Writer frame;
  frame.begin(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
  frame.end();
  Bytes out = frame.bytes();
  out.insert(out.end(), w_.bytes().begin(), w_.bytes().end());
  Writer tail;
  tail.begin(NFNL_MSG_BATCH_END, NLM_F_REQUEST, static_cast<uint32_t>(kFirstSeq + size()), AF_UNSPEC,
             NFNL_SUBSYS_NFTABLES);
  tail.end();
  out.insert(out.end(), tail.bytes().begin(), tail.bytes().end());

  auto sock = Socket::open();
  if (!sock) return fail(std::move(sock.error()).context(what));
  auto refused = sock->commit(out, kFirstSeq, size());
  if (!refused) return fail(std::move(refused.error()).context(what));
  if (!*refused) return {};
  const auto& r = **refused;
  const std::string cmd = r.index < described_.size() ? described_[r.index] : "a command";
  Error e = makeError(Code::Internal, std::string(what) + ": nf_tables refused '" + cmd + "': " + std::strerror(r.err));
  e.sysErrno = r.err;
  log::debug(e.msg);
  return fail(std::move(e));
}

}  // namespace ovl::nfnl
