// overlayctl diag: the data path, as the health mesh of the watchers saw it (model/health.hpp). A pair of
// this host that is down, or whose largest packet is below the network MTU, is a finding; diag cannot repair
// either (the cause is on the path: a firewall, the underlay's MTU, a dead host).
#include <ctime>

#include "overlayctl/diag.hpp"

namespace ovl::ctl {

void diagHealth(DiagInput& in, std::vector<Finding>& out) {
  const std::string& self = in.ctx.host;
  const int64_t now = int64_t(std::time(nullptr));
  for (const auto& [prober, rep] : in.snap.health) {
    for (const auto& p : rep.pairs) {
      if (prober != self && p.peer != self) continue;
      const std::string pair = prober + " -> " + p.peer;
      const std::string age = " (reported " + std::to_string(now - rep.time) + " s ago)";
      if (!p.up)
        out.push_back({"", "health-pair-down", pair,
                       "probes through the VXLAN path (UDP " + std::to_string(in.port) +
                           ", the allow-list, the underlay) get no answer: containers on " + prober + " cannot reach " +
                           p.peer + age,
                       {}, ""});
      else if (p.mtu && p.largest && p.largest < p.mtu)
        out.push_back({"", "health-path-mtu", pair,
                       "the largest packet that crosses is " + std::to_string(p.largest) + " bytes, below the network MTU " +
                           std::to_string(p.mtu) + ": larger packets between containers are dropped silently" + age,
                       {}, ""});
    }
  }
}

}  // namespace ovl::ctl
