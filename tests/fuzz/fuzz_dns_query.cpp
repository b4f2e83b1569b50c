// libFuzzer target: what a container can send to overlay-resolver. Any datagram goes through the same
// path as in the server: parse (ldns), look up, build the reply. A parsed query must always get a
// well-formed reply carrying its id.
#include <cstddef>
#include <cstdint>
#include <span>

#include "resolver/table.hpp"
#include "resolver/wire.hpp"

using namespace ovl;
using namespace ovl::resolver;

namespace {

const NameTable& table() {
  static const NameTable t = NameTable::fromListing(
      ovl::model::Keys("overlay-cni/"),
      {{"overlay-cni/attachments/over/h1/c1/eth0", R"({"ips":["10.0.0.2/24","fd00::2/64"],"names":["web","www.example"]})", 1, 1, 0},
       {"overlay-cni/attachments/over2/h2/c2/eth0", R"({"ips":["10.0.1.2/24"],"names":["db"]})", 1, 1, 0}});
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto q = parseQuery(std::span<const uint8_t>(data, size));
  if (!q) return 0;
  auto a = table().lookup({"over"}, q->name);
  for (const auto& reply : {buildAnswer(*q, a.addrs, 0), buildError(*q, kRcodeNxDomain)}) {
    if (reply.size() < 12) __builtin_trap();
    if (((uint16_t(reply[0]) << 8) | reply[1]) != q->id || !(reply[2] & 0x80)) __builtin_trap();
  }
  return 0;
}
