// The overlay plugin: its verbs (one file each) and the table skel dispatches on.
#pragma once

#include "cni/skel.hpp"

namespace ovl::overlay {

Result<cni::NetResult> cmdAdd(const cni::CmdArgs& args, const cni::NetConf& conf);
Result<void> cmdDel(const cni::CmdArgs& args, const cni::NetConf& conf);
Result<void> cmdCheck(const cni::CmdArgs& args, const cni::NetConf& conf);
Result<void> cmdGc(const cni::CmdArgs& args, const cni::NetConf& conf);
Result<void> cmdStatus(const cni::CmdArgs& args, const cni::NetConf& conf);

cni::Plugin plugin();

}  // namespace ovl::overlay
