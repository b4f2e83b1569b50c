// nf_tables netlink on the wire: messages and attributes written into one buffer, and read back.
// Our own small encoder (no libmnl, no libnftnl, no libnftables), so the binaries that use it link
// statically. Multi-byte numbers inside nf_tables attributes are big-endian; the headers are host order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ovl::nfnl {

using Bytes = std::vector<uint8_t>;

// Appends messages and their attributes to one buffer (a batch, or a single request).
class Writer {
 public:
  // Starts a message: netlink header, then the nfgenmsg header (family, version 0, res_id).
  void begin(uint16_t type, uint16_t flags, uint32_t seq, uint8_t family, uint16_t resId = 0);
  // Ends the message begun last: sets its length.
  void end();

  void put(uint16_t type, std::span<const uint8_t> data);
  void putStr(uint16_t type, std::string_view s);  // NUL-terminated
  void putBe32(uint16_t type, uint32_t v);
  void putBe64(uint16_t type, uint64_t v);
  // Nested attributes: nest() returns a mark for close(); the attribute carries NLA_F_NESTED.
  size_t nest(uint16_t type);
  void close(size_t mark);
  // Bytes already encoded as attributes (an expression's data).
  void raw(std::span<const uint8_t> attrs);
  // An attribute that holds one nested NFTA_DATA_VALUE (keys, compared data).
  void putValue(uint16_t type, std::span<const uint8_t> value);

  const Bytes& bytes() const { return buf_; }

 private:
  void pad();
  Bytes buf_;
  size_t msgStart_ = 0;
};

// The attributes of a message or of a nested attribute, indexed by type (types above max are skipped).
class Attrs {
 public:
  Attrs(std::span<const uint8_t> payload, uint16_t max);
  static Attrs ofMessage(std::span<const uint8_t> msg, uint16_t max);  // after nlmsghdr and nfgenmsg

  bool has(uint16_t t) const { return t < spans_.size() && spans_[t].data() != nullptr; }
  std::span<const uint8_t> raw(uint16_t t) const { return has(t) ? spans_[t] : std::span<const uint8_t>(); }
  std::string str(uint16_t t) const;  // up to the NUL
  uint32_t be32(uint16_t t) const;    // 0 when absent or short
  uint64_t be64(uint16_t t) const;
  Attrs nested(uint16_t t, uint16_t max) const { return Attrs(raw(t), max); }
  // The value inside an NFTA_DATA_VALUE nest.
  Bytes value(uint16_t t) const;

 private:
  std::vector<std::span<const uint8_t>> spans_;
};

// Each attribute of a list (NFTA_LIST_ELEM items of a nest), in order.
std::vector<std::span<const uint8_t>> listItems(std::span<const uint8_t> payload);

Bytes be32Bytes(uint32_t v);
Bytes be16Bytes(uint16_t v);

}  // namespace ovl::nfnl
