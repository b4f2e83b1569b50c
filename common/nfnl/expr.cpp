#include "nfnl/expr.hpp"

#include <linux/netfilter/nf_tables.h>

#include <cstring>

namespace ovl::nfnl {

std::vector<Expr> operator+(std::vector<Expr> a, const std::vector<Expr>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

namespace expr {
namespace {

template <typename F>
Expr make(std::string name, F&& f) {
  Writer w;
  f(w);
  return Expr{std::move(name), w.bytes()};
}

}  // namespace

Expr log(uint16_t group, uint32_t snaplen) {
  return make("log", [&](Writer& w) {
    const uint8_t be[2] = {uint8_t(group >> 8), uint8_t(group & 0xff)};
    w.put(NFTA_LOG_GROUP, be);
    w.putBe32(NFTA_LOG_SNAPLEN, snaplen);
    const uint8_t zero[2] = {0, 0};
    w.put(NFTA_LOG_QTHRESHOLD, zero);
  });
}

Expr meta(uint32_t key, uint32_t dreg) {
  return make("meta", [&](Writer& w) {
    w.putBe32(NFTA_META_KEY, key);
    w.putBe32(NFTA_META_DREG, dreg);
  });
}

Expr cmp(uint32_t sreg, uint32_t op, const Bytes& data) {
  return make("cmp", [&](Writer& w) {
    w.putBe32(NFTA_CMP_SREG, sreg);
    w.putBe32(NFTA_CMP_OP, op);
    w.putValue(NFTA_CMP_DATA, data);
  });
}

Expr payload(uint32_t base, uint32_t offset, uint32_t len, uint32_t dreg) {
  return make("payload", [&](Writer& w) {
    w.putBe32(NFTA_PAYLOAD_DREG, dreg);
    w.putBe32(NFTA_PAYLOAD_BASE, base);
    w.putBe32(NFTA_PAYLOAD_OFFSET, offset);
    w.putBe32(NFTA_PAYLOAD_LEN, len);
  });
}

Expr lookup(std::string_view set, uint32_t sreg, bool invert, std::optional<uint32_t> dreg) {
  return make("lookup", [&](Writer& w) {
    w.putBe32(NFTA_LOOKUP_SREG, sreg);
    if (dreg) w.putBe32(NFTA_LOOKUP_DREG, *dreg);
    w.putStr(NFTA_LOOKUP_SET, set);
    if (invert) w.putBe32(NFTA_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
  });
}

Expr counter() {
  return make("counter", [](Writer& w) {
    w.putBe64(NFTA_COUNTER_BYTES, 0);
    w.putBe64(NFTA_COUNTER_PACKETS, 0);
  });
}

Expr bitwise(uint32_t sreg, uint32_t dreg, const Bytes& mask, const Bytes& xorWith) {
  return make("bitwise", [&](Writer& w) {
    w.putBe32(NFTA_BITWISE_SREG, sreg);
    w.putBe32(NFTA_BITWISE_DREG, dreg);
    w.putBe32(NFTA_BITWISE_LEN, static_cast<uint32_t>(mask.size()));
    w.putValue(NFTA_BITWISE_MASK, mask);
    w.putValue(NFTA_BITWISE_XOR, xorWith);
  });
}

Expr ct(uint32_t key, uint32_t dreg) {
  return make("ct", [&](Writer& w) {
    w.putBe32(NFTA_CT_KEY, key);
    w.putBe32(NFTA_CT_DREG, dreg);
  });
}

Expr fib(uint32_t result, uint32_t flags, uint32_t dreg) {
  return make("fib", [&](Writer& w) {
    w.putBe32(NFTA_FIB_DREG, dreg);
    w.putBe32(NFTA_FIB_RESULT, result);
    w.putBe32(NFTA_FIB_FLAGS, flags);
  });
}

Expr nat(uint32_t type, uint8_t family, uint32_t regAddr, uint32_t regProto) {
  return make("nat", [&](Writer& w) {
    w.putBe32(NFTA_NAT_TYPE, type);
    w.putBe32(NFTA_NAT_FAMILY, family);
    w.putBe32(NFTA_NAT_REG_ADDR_MIN, regAddr);
    w.putBe32(NFTA_NAT_REG_PROTO_MIN, regProto);
  });
}

Expr masq() { return Expr{"masq", {}}; }

Expr verdict(int32_t code, std::string_view chain) {
  return make("immediate", [&](Writer& w) {
    w.putBe32(NFTA_IMMEDIATE_DREG, kVerdict);
    const size_t data = w.nest(NFTA_IMMEDIATE_DATA);
    const size_t v = w.nest(NFTA_DATA_VERDICT);
    w.putBe32(NFTA_VERDICT_CODE, static_cast<uint32_t>(code));
    if (!chain.empty()) w.putStr(NFTA_VERDICT_CHAIN, chain);
    w.close(v);
    w.close(data);
  });
}

}  // namespace expr

Bytes commentUdata(std::string_view comment) {
  if (comment.empty()) return {};
  comment = comment.substr(0, 127);
  Bytes out{0, static_cast<uint8_t>(comment.size() + 1)};
  out.insert(out.end(), comment.begin(), comment.end());
  out.push_back(0);
  return out;
}

std::string commentOf(std::span<const uint8_t> u) {
  while (u.size() >= 2) {
    const size_t len = u[1];
    if (2 + len > u.size()) break;
    if (u[0] == 0 && len > 0) {
      const auto* p = reinterpret_cast<const char*>(u.data() + 2);
      return std::string(p, strnlen(p, len));
    }
    u = u.subspan(2 + len);
  }
  return "";
}

}  // namespace ovl::nfnl
