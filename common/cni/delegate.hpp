// Runs another plugin (an IPAM plugin) found in CNI_PATH with the same environment and stdin.
#pragma once

#include <string>
#include <string_view>

#include "cni/result.hpp"
#include "cni/skel.hpp"
#include "util/error.hpp"

namespace ovl::cni {

struct DelegateOutput {
  int exitCode = 0;
  std::string out;
};

// Links `p` (a plugin compiled into this program, e.g. overlay-ipam into overlay) so that a delegation to its
// type runs in this process when the CNI_PATH lookup finds its binary installed beside this program's own (same
// directory, so the same release): the same code and the same validation through runPlugin, without an exec,
// a second dynamic link or a second store connection. Anything else, and every call when OVL_DELEGATE_EXEC=1,
// is exec'd. Call before the plugin runs.
void linkInProcess(Plugin p);

// Locates `type` in the ':'-separated CNI_PATH. Code::InvalidEnv when CNI_PATH is unset, InvalidConfig when
// the plugin is not found there.
Result<std::string> findPlugin(std::string_view type, std::string_view cniPath);

// Runs the plugin with `verb` as CNI_COMMAND; stderr passes through; bounded by a timeout
// (OVL_DELEGATE_TIMEOUT_MS, default 30000). A plugin that prints CNI error JSON and exits non-zero turns
// into our Error with its code and message, prefixed with the plugin's name.
Result<std::string> execPlugin(std::string_view type, std::string_view verb, const CmdArgs& args,
                               std::string_view stdinData);

Result<NetResult> delegateAdd(std::string_view type, const CmdArgs& args, std::string_view stdinData);
Result<void> delegateCheck(std::string_view type, const CmdArgs& args, std::string_view stdinData);
Result<void> delegateDel(std::string_view type, const CmdArgs& args, std::string_view stdinData);
Result<void> delegateGc(std::string_view type, const CmdArgs& args, std::string_view stdinData);
Result<void> delegateStatus(std::string_view type, const CmdArgs& args, std::string_view stdinData);

}  // namespace ovl::cni
