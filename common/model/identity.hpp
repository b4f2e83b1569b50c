// A host's claim on its name. Two machines configured with one hostName would overwrite each other's
// membership and free each other's leases; so the first to attach claims P/hosts/<host> (create-only) with
// what identifies the machine (readMachineId) and its VTEP address. Another machine claiming the name is
// refused with an error naming both; the same machine with a new VTEP address updates its claim. The claim is remembered locally per store id, so
// an ADD pays for it only once per store. A dead host's records are removed with `overlayctl hosts evict`.
#pragma once

#include <string>

#include "kv/consul.hpp"
#include "model/memory.hpp"
#include "model/records.hpp"
#include "util/error.hpp"

namespace ovl::model {

// What identifies this host: systemd's machine ID (first line of `path`) and the inode of the network
// namespace it runs in, "<machine-id>@ns<inode>". The initial namespace's inode is the same on every
// machine, so on a real node this is the machine ID; hosts simulated in namespaces of one machine differ.
// A missing or empty file is an error naming it (Code::Io): an empty ID would claim the host name with an
// identity that differs from the one the host's plugins use, and one of the two would be refused.
Result<std::string> readMachineId(const std::string& path = "/etc/machine-id");

// The same host: same machine identity. Its VTEP address may change (DHCP, a new "advertise").
bool sameMachine(const Host& a, const Host& b);

// Claims `self.host` for `self`, or fails (Code::InvalidConfig) when another machine holds the name.
// No request once this host's memory confirms the claim in the current store.
Result<void> ensureHostClaim(kv::ConsulClient& kv, HostMemory& mem, const Host& self);
// Whether this host's memory confirms its claim in the current store (ensureHostClaim would send nothing).
bool hostClaimConfirmed(const HostMemory& mem, const Host& self);

}  // namespace ovl::model
