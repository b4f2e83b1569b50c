// overlay-ipam: its verbs (one file each) and the table skel dispatches on.
#pragma once

#include "cni/skel.hpp"

namespace ovl::ipam {

cni::Plugin plugin();

Result<cni::NetResult> cmdAdd(const cni::CmdArgs& args, const cni::NetConf& net);
Result<void> cmdDel(const cni::CmdArgs& args, const cni::NetConf& net);
Result<void> cmdCheck(const cni::CmdArgs& args, const cni::NetConf& net);
Result<void> cmdGc(const cni::CmdArgs& args, const cni::NetConf& net);
Result<void> cmdStatus(const cni::CmdArgs& args, const cni::NetConf& net);

}  // namespace ovl::ipam
