#include "nfnl/wire.hpp"

#include <endian.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <cstring>

namespace ovl::nfnl {
namespace {

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

void Writer::pad() { buf_.resize(NLMSG_ALIGN(buf_.size()), 0); }

void Writer::begin(uint16_t type, uint16_t flags, uint32_t seq, uint8_t family, uint16_t resId) {
  pad();
  msgStart_ = buf_.size();
  buf_.resize(msgStart_ + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg)), 0);
  nlmsghdr h{.nlmsg_len = 0, .nlmsg_type = type, .nlmsg_flags = flags, .nlmsg_seq = seq, .nlmsg_pid = 0};
  nfgenmsg g{.nfgen_family = family, .version = NFNETLINK_V0, .res_id = htobe16(resId)};
  std::memcpy(buf_.data() + msgStart_, &h, sizeof h);
  std::memcpy(buf_.data() + msgStart_ + NLMSG_HDRLEN, &g, sizeof g);
}

void Writer::end() {
  pad();
  const auto len = static_cast<uint32_t>(buf_.size() - msgStart_);
  std::memcpy(buf_.data() + msgStart_, &len, sizeof len);
}

void Writer::put(uint16_t type, std::span<const uint8_t> data) {
  pad();
  const size_t at = buf_.size();
  const auto len = static_cast<uint16_t>(NLA_HDRLEN + data.size());
  buf_.resize(at + NLA_HDRLEN + data.size(), 0);
  nlattr a{.nla_len = len, .nla_type = type};
  std::memcpy(buf_.data() + at, &a, sizeof a);
  if (!data.empty()) std::memcpy(buf_.data() + at + NLA_HDRLEN, data.data(), data.size());
  pad();
}

void Writer::putStr(uint16_t type, std::string_view s) {
  Bytes b(s.begin(), s.end());
  b.push_back(0);
  put(type, b);
}

void Writer::putBe32(uint16_t type, uint32_t v) { put(type, be32Bytes(v)); }

void Writer::putBe64(uint16_t type, uint64_t v) {
  const uint64_t be = htobe64(v);
  put(type, {reinterpret_cast<const uint8_t*>(&be), sizeof be});
}

size_t Writer::nest(uint16_t type) {
  pad();
  const size_t at = buf_.size();
  buf_.resize(at + NLA_HDRLEN, 0);
  nlattr a{.nla_len = 0, .nla_type = static_cast<uint16_t>(type | NLA_F_NESTED)};
  std::memcpy(buf_.data() + at, &a, sizeof a);
  return at;
}

void Writer::close(size_t mark) {
  const auto len = static_cast<uint16_t>(buf_.size() - mark);
  std::memcpy(buf_.data() + mark, &len, sizeof len);
}

void Writer::raw(std::span<const uint8_t> attrs) {
  pad();
  buf_.insert(buf_.end(), attrs.begin(), attrs.end());
  pad();
}

void Writer::putValue(uint16_t type, std::span<const uint8_t> value) {
  const size_t n = nest(type);
  put(NFTA_DATA_VALUE, value);
  close(n);
}

Attrs::Attrs(std::span<const uint8_t> p, uint16_t max) : spans_(max + 1) {
  while (p.size() >= NLA_HDRLEN) {
    const auto a = load<nlattr>(p.data());
    if (a.nla_len < NLA_HDRLEN || a.nla_len > p.size()) break;
    const uint16_t t = a.nla_type & NLA_TYPE_MASK;
    if (t <= max) spans_[t] = p.subspan(NLA_HDRLEN, a.nla_len - NLA_HDRLEN);
    const size_t step = NLA_ALIGN(a.nla_len);
    if (step >= p.size()) break;
    p = p.subspan(step);
  }
}

Attrs Attrs::ofMessage(std::span<const uint8_t> msg, uint16_t max) {
  const size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg));
  return Attrs(msg.size() > off ? msg.subspan(off) : std::span<const uint8_t>(), max);
}

std::string Attrs::str(uint16_t t) const {
  const auto r = raw(t);
  const auto* p = reinterpret_cast<const char*>(r.data());
  return r.empty() ? std::string() : std::string(p, strnlen(p, r.size()));
}

uint32_t Attrs::be32(uint16_t t) const {
  const auto r = raw(t);
  return r.size() >= 4 ? be32toh(load<uint32_t>(r.data())) : 0;
}

uint64_t Attrs::be64(uint16_t t) const {
  const auto r = raw(t);
  return r.size() >= 8 ? be64toh(load<uint64_t>(r.data())) : 0;
}

Bytes Attrs::value(uint16_t t) const {
  const auto v = nested(t, NFTA_DATA_MAX).raw(NFTA_DATA_VALUE);
  return Bytes(v.begin(), v.end());
}

std::vector<std::span<const uint8_t>> listItems(std::span<const uint8_t> p) {
  std::vector<std::span<const uint8_t>> out;
  while (p.size() >= NLA_HDRLEN) {
    const auto a = load<nlattr>(p.data());
    if (a.nla_len < NLA_HDRLEN || a.nla_len > p.size()) break;
    if ((a.nla_type & NLA_TYPE_MASK) == NFTA_LIST_ELEM) out.push_back(p.subspan(NLA_HDRLEN, a.nla_len - NLA_HDRLEN));
    const size_t step = NLA_ALIGN(a.nla_len);
    if (step >= p.size()) break;
    p = p.subspan(step);
  }
  return out;
}

Bytes be32Bytes(uint32_t v) {
  const uint32_t be = htobe32(v);
  return Bytes(reinterpret_cast<const uint8_t*>(&be), reinterpret_cast<const uint8_t*>(&be) + 4);
}

Bytes be16Bytes(uint16_t v) {
  const uint16_t be = htobe16(v);
  return Bytes(reinterpret_cast<const uint8_t*>(&be), reinterpret_cast<const uint8_t*>(&be) + 2);
}

}  // namespace ovl::nfnl
