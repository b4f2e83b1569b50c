// The names an attachment is known by in this host's resolver: the runtime's container name
// (CNI_ARGS K8S_POD_NAME; podman sets it to the container name) and the `aliases` capability
// (runtimeConfig.aliases: {"<network>": ["alias", ...]}). Names are stored lower-case (model/dns_names.hpp).
#pragma once

#include <string>
#include <vector>

#include "cni/config.hpp"
#include "cni/skel.hpp"
#include "util/error.hpp"

namespace ovl::overlay {

// The attachment's names for network `net`, validated (code 7 naming the field and value), canonical,
// without duplicates, in the order given.
Result<std::vector<std::string>> attachmentNames(const cni::CmdArgs& args, const cni::NetConf& conf,
                                                 const std::string& net);

}  // namespace ovl::overlay
