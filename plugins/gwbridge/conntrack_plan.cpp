#include "gwbridge/conntrack_plan.hpp"

#include <sys/socket.h>

#include <algorithm>

namespace ovl::gwbridge {
namespace {

void addOnce(std::vector<CtQuery>& qs, CtQuery q) {
  if (std::find(qs.begin(), qs.end(), q) == qs.end()) qs.push_back(std::move(q));
}

// Entries towards the host port, per family the mapping can catch.
void addPort(std::vector<CtQuery>& qs, const CtPort& p) {
  const auto proto = uint8_t(protoNumber(p.proto));
  for (int family : {AF_INET, AF_INET6})
    if (!p.hostIp || p.hostIp->family() == family)
      addOnce(qs, CtQuery{.family = family, .proto = proto, .origDport = p.port});
}

// Entries from the address and entries DNAT'ed to it (their replies come from it). IPv6 gets no address
// filter (see CtQuery), so one dump of the family serves every IPv6 address.
void addAddr(std::vector<CtQuery>& qs, const IpAddr& a) {
  if (!a.isV4()) return addOnce(qs, CtQuery{.family = AF_INET6});
  addOnce(qs, CtQuery{.family = AF_INET, .origSrc = a});
  addOnce(qs, CtQuery{.family = AF_INET, .replySrc = a});
}

}  // namespace

std::vector<CtQuery> planDumps(const CtFilter& f, const CtTable& t) {
  std::vector<CtQuery> qs;
  for (const auto& p : f.ports) addPort(qs, p);
  for (const auto& a : f.addrs) addAddr(qs, a);
  if (qs.size() < 2) return qs;
  // One walk and every entry of the namespace, against one walk per query and only the matches.
  const uint64_t walksSaved = qs.size() - 1;
  if (t.tracked * kBucketsPerEntry < walksSaved * t.buckets) return {CtQuery{.family = AF_UNSPEC}};
  return qs;
}

bool selects(const CtFilter& f, const CtEntry& e, const std::function<bool(const IpAddr&)>& isLocal) {
  const bool toPort = e.origDport && e.origDst && std::any_of(f.ports.begin(), f.ports.end(), [&](const CtPort& p) {
                        return protoNumber(p.proto) == e.proto && p.port == *e.origDport &&
                               (p.hostIp ? *p.hostIp == *e.origDst : isLocal(*e.origDst));
                      });
  if (toPort) return true;
  auto fromOrTo = [&](const IpAddr& a) { return e.origSrc == a || e.replySrc == a; };
  return std::any_of(f.addrs.begin(), f.addrs.end(), fromOrTo);
}

}  // namespace ovl::gwbridge
