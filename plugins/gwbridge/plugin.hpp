// gwbridge's verbs and what they share.
#pragma once

#include <string>
#include <vector>

#include "cni/skel.hpp"
#include "gwbridge/conntrack.hpp"
#include "gwbridge/rules.hpp"
#include "util/error.hpp"

namespace ovl::gwbridge {

cni::Plugin plugin();

Result<cni::NetResult> cmdAdd(const cni::CmdArgs& args, const cni::NetConf& conf);
Result<void> cmdDel(const cni::CmdArgs& args, const cni::NetConf& conf);
Result<void> cmdCheck(const cni::CmdArgs& args, const cni::NetConf& conf);
Result<void> cmdGc(const cni::CmdArgs& args, const cni::NetConf& conf);
Result<void> cmdStatus(const cni::CmdArgs& args, const cni::NetConf& conf);

// One attachment (network, CNI_CONTAINERID, CNI_IFNAME) and the names derived from it. Everything the
// plugin leaves on the host is keyed by these, so DEL and GC work without the container's namespace.
struct Attachment {
  std::string network;
  std::string containerId;
  std::string ifName;    // CNI_IFNAME
  std::string tag;       // comment on its nftables map elements
  std::string hostVeth;  // host end of its veth
};
Attachment attachmentOf(const cni::CmdArgs& args, const cni::NetConf& conf);

struct AttachmentRecord;
// The conntrack entries to drop once an attachment is gone: flows to its host ports and from or to its
// container addresses.
CtFilter ctFilterFor(const AttachmentRecord& r);

}  // namespace ovl::gwbridge
