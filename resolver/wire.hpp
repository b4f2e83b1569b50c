// DNS wire format: reading a query (our own reader, parse_query.cpp), writing our answers (through ldns,
// Debian's libldns, from our own data). Anything that is not a well-formed standard query with exactly one
// question is refused here, so the server drops it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "util/ip.hpp"

namespace ovl::resolver {

inline constexpr uint16_t kTypeA = 1, kTypeAAAA = 28, kTypeANY = 255, kClassIN = 1;
inline constexpr uint8_t kRcodeNoError = 0, kRcodeServFail = 2, kRcodeNxDomain = 3, kRcodeNotImp = 4,
                         kRcodeRefused = 5;

struct Query {
  uint16_t id = 0;
  std::string name;   // canonical: lower case, no trailing dot
  std::string owner;  // the name as asked (case kept, for 0x20-checking clients), with trailing dot
  uint16_t qtype = 0, qclass = 0;
  bool rd = false;
  std::vector<uint8_t> raw;  // the packet as received (forwarded unchanged)
};

// nullopt: malformed (in any section, names longer than 255 bytes, labels longer than 63, compression
// in the question, pointers that do not point back), a response, not opcode QUERY, or not exactly one question.
std::optional<Query> parseQuery(std::span<const uint8_t> packet);

// An authoritative answer for q: the addresses of q's type (A: IPv4, AAAA: IPv6, ANY: both; other
// types get none), with `ttl`. An empty answer with rcode NOERROR is NODATA.
std::vector<uint8_t> buildAnswer(const Query& q, const std::vector<IpAddr>& addrs, uint32_t ttl);
// A header-and-question reply with `rcode`.
std::vector<uint8_t> buildError(const Query& q, uint8_t rcode);

}  // namespace ovl::resolver
