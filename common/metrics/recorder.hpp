// Records each plugin call into the host's metrics file (call_file.hpp): the verb's outcome and latency from
// the skeleton, the phases and store requests from the process tally. Never fails the call: an error is
// logged at debug level and ignored.
#pragma once

#include <string>

#include "cni/skel.hpp"
#include "util/error.hpp"

namespace ovl::metrics {

// <stateDir>/ns-<netns inode>/metrics.bin for the node config's stateDir (else kv::kDefaultStateDir).
Result<std::string> hostMetricsFile(const std::string& stateDir);

void recordCall(const cni::CallReport& r);

// `p` with its report hook set to recordCall.
cni::Plugin recorded(cni::Plugin p);

}  // namespace ovl::metrics
