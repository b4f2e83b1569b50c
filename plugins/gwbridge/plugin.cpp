#include "gwbridge/plugin.hpp"

#include <algorithm>

#include "gwbridge/bridge.hpp"

namespace ovl::gwbridge {

cni::Plugin plugin() {
  return cni::Plugin{.name = "gwbridge", .extraArgKeys = {}, .add = cmdAdd, .del = cmdDel, .check = cmdCheck,
                     .gc = cmdGc, .status = cmdStatus,
                     .summary = "A second interface on a host-local gateway bridge, with NAT and port mappings.",
                     .moreUsage = {}};
}

Attachment attachmentOf(const cni::CmdArgs& args, const cni::NetConf& conf) {
  Attachment a;
  a.network = conf.name;
  a.containerId = args.containerId;
  a.ifName = args.ifName;
  a.tag = ruleTag(conf.name, args.containerId, args.ifName);
  a.hostVeth = hostVethName(args.containerId, args.ifName);
  return a;
}

CtFilter ctFilterFor(const std::vector<ListedRule>& rules) {
  CtFilter f;
  auto addAddr = [&](const std::optional<IpAddr>& ip) {
    if (ip && std::find(f.addrs.begin(), f.addrs.end(), *ip) == f.addrs.end()) f.addrs.push_back(*ip);
  };
  for (const auto& r : rules) {
    if (r.dnatAddr && r.proto && r.dport) {
      bool seen = std::any_of(f.ports.begin(), f.ports.end(), [&](const CtPort& p) {
        return p.proto == *r.proto && p.port == r.dport && p.hostIp == r.hostIp;
      });
      if (!seen) f.ports.push_back(CtPort{*r.proto, r.dport, r.hostIp});
      addAddr(r.dnatAddr);
    }
    if (r.chain == "postrouting") addAddr(r.saddr);
  }
  return f;
}

}  // namespace ovl::gwbridge
