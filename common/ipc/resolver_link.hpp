// The local link between the overlay plugin and this host's name resolver (overlay-resolver): a unix
// seqpacket socket at <stateDir>/ns-<host netns inode>/resolver.sock, root only. ADD offers the
// container's network namespace (the fd travels with SCM_RIGHTS) so the resolver can answer inside it
// on 127.0.0.11:53; DEL withdraws it. One JSON request, one reply ("ok" or "error: ..."), then close.
#pragma once

#include <string>
#include <string_view>

#include "util/error.hpp"

namespace ovl::ipc {

inline constexpr const char* kResolverAddress = "127.0.0.11";

struct ResolverRequest {
  enum Op { Attach, Detach } op = Attach;
  std::string network, containerId, ifName;
  std::string netnsPath;  // Attach: CNI_NETNS, kept so a restarted resolver can reopen it
  bool operator==(const ResolverRequest&) const = default;
};

std::string encodeRequest(const ResolverRequest& r);
Result<ResolverRequest> decodeRequest(std::string_view text);

// The socket path for the host network namespace the caller runs in.
Result<std::string> resolverSocketPath(const std::string& stateDir);

// Sends `r` (with netnsFd when >= 0) and waits up to timeoutMs for the reply. An error means no resolver
// took it (none running, or it refused); callers carry on without name resolution.
Result<void> tellResolver(const std::string& stateDir, const ResolverRequest& r, int netnsFd, int timeoutMs);

}  // namespace ovl::ipc
