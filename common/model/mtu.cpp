#include "model/mtu.hpp"

#include <algorithm>

namespace ovl::model {

unsigned carriedMtu(unsigned underlayMtu, unsigned overhead) {
  return underlayMtu > overhead + 576 ? underlayMtu - overhead : 576;
}

namespace {

Error cannotCarry(const MtuInput& in, const std::string& host, const std::string& where, unsigned underlay,
                  unsigned mtu, const std::string& whose) {
  return makeError(Code::InvalidConfig,
                   "host '" + host + "' cannot carry network '" + in.network + "': its underlay" + where + " has MTU " +
                       std::to_string(underlay) + ", at most " + std::to_string(carriedMtu(underlay, in.overhead)) +
                       " for containers after " + std::to_string(in.overhead) + " bytes of VXLAN, but " + whose +
                       " is " + std::to_string(mtu) +
                       ": raise that host's underlay MTU, or give the network a smaller 'mtu' on every host");
}

}  // namespace

Result<unsigned> networkMtu(const MtuInput& in) {
  const unsigned own = carriedMtu(in.underlayMtu, in.overhead);
  const std::string where = in.underlayName.empty() ? "" : " " + in.underlayName;
  if (in.configured) {
    const unsigned want = *in.configured;
    if (want > own) return fail(cannotCarry(in, in.self, where, in.underlayMtu, want, "the configured 'mtu'"));
    for (const auto& m : in.members)
      if (m.host != in.self && m.underlayMtu && carriedMtu(m.underlayMtu, in.overhead) < want)
        return fail(cannotCarry(in, m.host, "", m.underlayMtu, want, "the configured 'mtu'"));
    return want;
  }
  std::optional<unsigned> network;
  std::string setBy;
  for (const auto& m : in.members)
    if (m.host != in.self && m.mtu && (!network || m.mtu < *network)) network = m.mtu, setBy = m.host;
  if (!network) return own;
  if (*network > own)
    return fail(cannotCarry(in, in.self, where, in.underlayMtu, *network,
                            "the MTU its containers use (on '" + setBy + "' and the other members)"));
  return *network;
}

}  // namespace ovl::model
