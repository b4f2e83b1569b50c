// parseQuery: our own reader for what a container sends to 127.0.0.11. It is not ldns_wire2pkt because
// that one leaks untrusted input: Debian's libldns 1.8.3 loses an RR (73 bytes) when an additional section
// carries a second TSIG record, so any container could grow the resolver's memory at will (found by
// fuzz_dns_query; the input is kept in its corpus). We need the header and the one question only; the
// other sections are walked to check that they are there and well formed, never stored.
#include <cstdio>

#include "model/dns_names.hpp"
#include "resolver/wire.hpp"

namespace ovl::resolver {
namespace {

constexpr size_t kHeader = 12, kMaxName = 255, kMaxLabel = 63, kMaxPointers = 16;

uint16_t be16(std::span<const uint8_t> p, size_t at) { return uint16_t((p[at] << 8) | p[at + 1]); }

// The presentation form ldns writes for a name (ldns_rdf2str): the specials . ; ( ) \ as \c, other
// bytes outside printable ASCII as \DDD, labels joined by dots, a trailing dot, "." for the root. A label
// holding a dot stays one label in the text, so it can never be read as two.
void appendLabel(std::string& out, std::span<const uint8_t> label) {
  for (uint8_t c : label) {
    if (c == '.' || c == ';' || c == '(' || c == ')' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c <= 0x20 || c >= 0x7f) {
      char esc[5];
      std::snprintf(esc, sizeof esc, "\\%03u", unsigned(c));
      out += esc;
    } else {
      out += char(c);
    }
  }
  out += '.';
}

// The question's name at `at`, uncompressed (a pointer there could only point into the header).
std::optional<std::string> readQuestionName(std::span<const uint8_t> p, size_t& at) {
  std::string text;
  size_t wire = 0;
  for (;;) {
    if (at >= p.size()) return std::nullopt;
    const uint8_t len = p[at++];
    if (len == 0) break;
    if (len > kMaxLabel || at + len > p.size()) return std::nullopt;  // pointers and extended labels too
    wire += 1 + len;
    if (wire + 1 > kMaxName) return std::nullopt;
    appendLabel(text, p.subspan(at, len));
    at += len;
  }
  return text.empty() ? std::string(".") : text;
}

// Skips a name of a record section: labels, then the end or one pointer to an earlier offset. Pointers are
// followed (to check they land on a name) at most kMaxPointers times, so a loop cannot spin.
bool skipName(std::span<const uint8_t> p, size_t& at) {
  size_t pos = at, wire = 0, jumps = 0;
  bool jumped = false;
  for (;;) {
    if (pos >= p.size()) return false;
    const uint8_t len = p[pos];
    if ((len & 0xc0) == 0xc0) {
      if (pos + 1 >= p.size() || ++jumps > kMaxPointers) return false;
      const size_t target = size_t(be16(p, pos) & 0x3fff);
      if (target < kHeader || target >= pos) return false;  // only backwards, into the message body
      if (!jumped) at = pos + 2;
      jumped = true;
      pos = target;
      continue;
    }
    if (len > kMaxLabel) return false;  // 0x40 and 0x80: extended label types, none in use
    wire += 1 + len;
    if (wire > kMaxName || pos + 1 + len > p.size()) return false;
    pos += 1 + len;
    if (len == 0) break;
  }
  if (!jumped) at = pos;
  return true;
}

bool skipRecord(std::span<const uint8_t> p, size_t& at) {
  if (!skipName(p, at) || at + 10 > p.size()) return false;
  const size_t rdlength = be16(p, at + 8);
  at += 10;
  if (at + rdlength > p.size()) return false;
  at += rdlength;
  return true;
}

}  // namespace

std::optional<Query> parseQuery(std::span<const uint8_t> packet) {
  if (packet.size() < kHeader || packet.size() > 4096) return std::nullopt;
  const uint8_t flags = packet[2];
  const bool response = flags & 0x80;
  const unsigned opcode = (flags >> 3) & 0x0f;
  if (response || opcode != 0 || be16(packet, 4) != 1) return std::nullopt;
  size_t at = kHeader;
  auto owner = readQuestionName(packet, at);
  if (!owner || at + 4 > packet.size()) return std::nullopt;
  Query q;
  q.qtype = be16(packet, at);
  q.qclass = be16(packet, at + 2);
  at += 4;
  const size_t records = size_t(be16(packet, 6)) + be16(packet, 8) + be16(packet, 10);
  for (size_t i = 0; i < records; ++i)
    if (!skipRecord(packet, at)) return std::nullopt;
  q.id = be16(packet, 0);
  q.name = *owner == "." ? std::string() : model::canonicalName(*owner);
  q.owner = std::move(*owner);
  q.rd = flags & 0x01;
  q.raw.assign(packet.begin(), packet.end());
  return q;
}

}  // namespace ovl::resolver
