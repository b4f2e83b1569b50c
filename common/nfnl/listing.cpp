#include "nfnl/listing.hpp"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <cerrno>

#include "metrics/tally.hpp"
#include "nfnl/socket.hpp"

namespace ovl::nfnl {
namespace {

uint16_t nftType(uint16_t msg) { return static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | msg); }

uint8_t familyOfMessage(std::span<const uint8_t> m) {
  return m.size() > NLMSG_HDRLEN ? m[NLMSG_HDRLEN] : 0;
}

// A dump request of `msg` in family `fam` (NFPROTO_UNSPEC: every family), with optional attributes.
template <typename F>
Bytes request(uint16_t msg, uint8_t fam, F&& attrs) {
  Writer w;
  w.begin(nftType(msg), NLM_F_REQUEST | NLM_F_DUMP, 1, fam);
  attrs(w);
  w.end();
  return w.bytes();
}

Bytes request(uint16_t msg, uint8_t fam) {
  return request(msg, fam, [](Writer&) {});
}

// Only the families we write (others are not ours to read, and their objects do not concern us).
bool wanted(uint8_t fam, std::optional<Family> only) {
  const auto f = familyOf(fam);
  return f && (!only || *f == *only);
}

struct Reader {
  Socket sock;
  std::optional<Family> only;
  std::string table;  // "" for every table

  bool mine(uint8_t fam, const std::string& t) const { return wanted(fam, only) && (table.empty() || t == table); }
  uint8_t fam() const { return only ? static_cast<uint8_t>(*only) : uint8_t(NFPROTO_UNSPEC); }

  Result<bool> tables(Listing& out) {
    return sock.dump(request(NFT_MSG_GETTABLE, fam()), [&](std::span<const uint8_t> m) {
      const Attrs a = Attrs::ofMessage(m, NFTA_TABLE_MAX);
      const std::string name = a.str(NFTA_TABLE_NAME);
      if (mine(familyOfMessage(m), name)) out.tables.emplace_back(*familyOf(familyOfMessage(m)), name);
    });
  }

  Result<bool> chains(Listing& out) {
    return sock.dump(request(NFT_MSG_GETCHAIN, fam()), [&](std::span<const uint8_t> m) {
      const Attrs a = Attrs::ofMessage(m, NFTA_CHAIN_MAX);
      ListedChain c{.family = Family::Inet, .table = a.str(NFTA_CHAIN_TABLE), .name = a.str(NFTA_CHAIN_NAME),
                    .comment = commentOf(a.raw(NFTA_CHAIN_USERDATA)), .base = a.has(NFTA_CHAIN_HOOK)};
      if (!mine(familyOfMessage(m), c.table)) return;
      c.family = *familyOf(familyOfMessage(m));
      out.chains.push_back(std::move(c));
    });
  }

  Result<bool> sets(Listing& out) {
    return sock.dump(request(NFT_MSG_GETSET, fam()), [&](std::span<const uint8_t> m) {
      const Attrs a = Attrs::ofMessage(m, NFTA_SET_MAX);
      ListedSet s{.family = Family::Inet, .table = a.str(NFTA_SET_TABLE), .name = a.str(NFTA_SET_NAME),
                  .flags = a.be32(NFTA_SET_FLAGS), .keyType = a.be32(NFTA_SET_KEY_TYPE),
                  .keyLen = a.be32(NFTA_SET_KEY_LEN), .dataLen = a.be32(NFTA_SET_DATA_LEN), .elements = {}};
      if (!mine(familyOfMessage(m), s.table) || (s.flags & NFT_SET_ANONYMOUS)) return;
      s.family = *familyOf(familyOfMessage(m));
      out.sets.push_back(std::move(s));
    });
  }

  Result<void> elements(ListedSet& s) {
    const Bytes req = request(NFT_MSG_GETSETELEM, static_cast<uint8_t>(s.family), [&](Writer& w) {
      w.putStr(NFTA_SET_ELEM_LIST_TABLE, s.table);
      w.putStr(NFTA_SET_ELEM_LIST_SET, s.name);
    });
    TRY(sock.dump(req, [&](std::span<const uint8_t> m) {
      const Attrs a = Attrs::ofMessage(m, NFTA_SET_ELEM_LIST_MAX);
      for (auto item : listItems(a.raw(NFTA_SET_ELEM_LIST_ELEMENTS))) {
        const Attrs e(item, NFTA_SET_ELEM_MAX);
        s.elements.push_back(Element{.key = e.value(NFTA_SET_ELEM_KEY), .data = e.value(NFTA_SET_ELEM_DATA),
                                     .comment = commentOf(e.raw(NFTA_SET_ELEM_USERDATA))});
      }
    }));
    return {};
  }

  Result<bool> rules(Listing& out) {
    // The kernel filters a rule dump by table when asked; the check below stays for older kernels.
    const Bytes req = request(NFT_MSG_GETRULE, fam(), [&](Writer& w) {
      if (!table.empty()) w.putStr(NFTA_RULE_TABLE, table);
    });
    return sock.dump(req, [&](std::span<const uint8_t> m) {
      const Attrs a = Attrs::ofMessage(m, NFTA_RULE_MAX);
      ListedRule r{.family = Family::Inet, .table = a.str(NFTA_RULE_TABLE), .chain = a.str(NFTA_RULE_CHAIN),
                   .comment = commentOf(a.raw(NFTA_RULE_USERDATA)), .handle = a.be64(NFTA_RULE_HANDLE), .exprs = {}};
      if (!mine(familyOfMessage(m), r.table)) return;
      r.family = *familyOf(familyOfMessage(m));
      for (auto item : listItems(a.raw(NFTA_RULE_EXPRESSIONS))) {
        const Attrs e(item, NFTA_EXPR_MAX);
        const auto data = e.raw(NFTA_EXPR_DATA);
        r.exprs.push_back(Expr{e.str(NFTA_EXPR_NAME), Bytes(data.begin(), data.end())});
      }
      out.rules.push_back(std::move(r));
    });
  }

  Result<Listing> all(bool withElements) {
    Listing out;
    TRY(tables(out));
    TRY(chains(out));
    TRY(sets(out));
    if (withElements)
      for (auto& s : out.sets) TRY_VOID(elements(s));
    TRY(rules(out));
    return out;
  }
};

// Runs a listing again when the ruleset changed while it was read (at most a few times).
template <typename F>
auto consistent(F&& read) -> decltype(read()) {
  for (int attempt = 1;; ++attempt) {
    auto r = read();
    if (r || r.error().sysErrno != EINTR || attempt >= 5) return r;
  }
}

}  // namespace

const ListedSet* Listing::set(std::string_view name) const {
  for (const auto& s : sets)
    if (s.name == name) return &s;
  return nullptr;
}

Result<std::optional<Listing>> listTable(Family f, std::string_view table) {
  metrics::PhaseTimer timer(metrics::Phase::Nft);
  Reader r{TRY(Socket::open()), f, std::string(table)};
  auto out = TRY(consistent([&] { return r.all(true); }));
  if (out.tables.empty()) return std::nullopt;
  return out;
}

Result<std::vector<ListedRule>> listRules(Family f, std::string_view table) {
  metrics::PhaseTimer timer(metrics::Phase::Nft);
  Reader r{TRY(Socket::open()), f, std::string(table)};
  return consistent([&]() -> Result<std::vector<ListedRule>> {
    Listing out;
    TRY(r.rules(out));
    return std::move(out.rules);
  });
}

Result<Listing> listRuleset(bool elements) {
  metrics::PhaseTimer timer(metrics::Phase::Nft);
  Reader r{TRY(Socket::open()), std::nullopt, ""};
  return consistent([&] { return r.all(elements); });
}

std::vector<Bytes> splitConcat(const Bytes& b, std::initializer_list<size_t> widths) {
  std::vector<Bytes> out;
  size_t at = 0;
  for (size_t w : widths) {
    if (at + w > b.size()) return {};
    out.emplace_back(b.begin() + long(at), b.begin() + long(at + w));
    at += (w + 3) / 4 * 4;
  }
  return out;
}

}  // namespace ovl::nfnl
