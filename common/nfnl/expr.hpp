// nf_tables expressions, encoded: what one element of a rule's expression list carries. The builders
// write exactly what nft(8) writes for the same rule text (checked with `nft --debug=netlink`), so
// `nft list ruleset` shows our rules in its usual syntax.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nfnl/wire.hpp"

namespace ovl::nfnl {

struct Expr {
  std::string name;  // "meta", "cmp", "payload", ...
  Bytes data;        // the NFTA_EXPR_DATA attributes
};

// Expression lists joined: a's, then b's.
std::vector<Expr> operator+(std::vector<Expr> a, const std::vector<Expr>& b);

namespace expr {

// Registers: 0 is the verdict; 1..4 the 16-byte registers; 9.. the 4-byte ones after register 1's first word
// (NFT_REG32_01), as nft allocates them for a concatenation.
inline constexpr uint32_t kVerdict = 0, kReg1 = 1, kReg2 = 2, kReg32_01 = 9, kReg32_02 = 10, kReg32_05 = 13;

Expr meta(uint32_t key, uint32_t dreg);                                     // NFT_META_*
Expr cmp(uint32_t sreg, uint32_t op, const Bytes& data);                    // NFT_CMP_*
Expr payload(uint32_t base, uint32_t offset, uint32_t len, uint32_t dreg);  // NFT_PAYLOAD_*_HEADER
// A set lookup of the key in sreg (a map's value to dreg); invert: "not in the set".
Expr lookup(std::string_view set, uint32_t sreg, bool invert, std::optional<uint32_t> dreg = std::nullopt);
Expr counter();
// bitwise: dreg = (sreg & mask) ^ xor, over mask.size() bytes.
Expr bitwise(uint32_t sreg, uint32_t dreg, const Bytes& mask, const Bytes& xorWith);
Expr ct(uint32_t key, uint32_t dreg);                          // NFT_CT_*
Expr fib(uint32_t result, uint32_t flags, uint32_t dreg);      // NFT_FIB_RESULT_*, NFTA_FIB_F_*
// NAT: type NFT_NAT_DNAT/SNAT, family NFPROTO_IPV4/IPV6, address and port from registers.
Expr nat(uint32_t type, uint8_t family, uint32_t regAddr, uint32_t regProto);
Expr masq();
// Hands the packet to nfnetlink_log `group` (its first `snaplen` bytes), as `log group G snaplen N`.
Expr log(uint16_t group, uint32_t snaplen);
// A verdict: NF_ACCEPT, NF_DROP, or NFT_JUMP/NFT_GOTO with the chain.
Expr verdict(int32_t code, std::string_view chain = {});

}  // namespace expr

// The comment of a rule, element or chain as nft stores it in the object's user data (type 0, NUL-terminated;
// at most 127 bytes kept).
Bytes commentUdata(std::string_view comment);
// The comment in such user data, "" when none.
std::string commentOf(std::span<const uint8_t> udata);

}  // namespace ovl::nfnl
