#include "gwbridge/plugin.hpp"

#include <algorithm>

#include "gwbridge/bridge.hpp"
#include "gwbridge/state.hpp"

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

CtFilter ctFilterFor(const AttachmentRecord& r) {
  CtFilter f;
  for (const auto& a : r.addrs)
    if (std::find(f.addrs.begin(), f.addrs.end(), a.addr()) == f.addrs.end()) f.addrs.push_back(a.addr());
  for (const auto& m : r.ports) f.ports.push_back(CtPort{m.proto, m.hostPort, m.hostIp});
  return f;
}

}  // namespace ovl::gwbridge
