// Removing a network's host devices and membership once its last container on this host is gone.
#pragma once

#include <optional>

#include "model/cluster.hpp"
#include "model/memory.hpp"
#include "nl/socket.hpp"
#include "overlay/config.hpp"

namespace ovl::overlay {

// Under the host lock: when no container port is left on the network's bridge, deletes the bridge and
// VXLAN device, removes the VNI's pairs from the VXLAN allow-list and withdraws this host's membership
// (when `cluster` is given). Idempotent.
Result<void> teardownIfUnused(nl::Socket& s, const OverlayConf& c, uint32_t vni, model::Cluster* cluster);

// Deletes the attachment record (or, for an empty containerId, this host's membership); when the store is
// unreachable, keeps the deletion in the host's memory (model/memory.hpp) and succeeds: DEL undoes what is on
// this host and must not fail because the store is down.
Result<void> withdrawOrRemember(model::Cluster& cluster, const OverlayConf& c, const model::PendingWithdrawal& w);
// Sends the kept deletions whose container (or network) is still gone from this host; drops the others.
Result<void> replayWithdrawals(nl::Socket& s, model::Cluster& cluster, const OverlayConf& c);

// The VNI of the network: configured, else the one this host recorded when it attached, else the store's.
Result<std::optional<uint32_t>> knownVni(const OverlayConf& c, model::Cluster* cluster);

}  // namespace ovl::overlay
