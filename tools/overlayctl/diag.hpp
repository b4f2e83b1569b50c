// overlayctl diag: this host's share of the store (membership, attachments, leases) against its kernel
// state (overlay devices, flood list, veths, gwbridge's nftables rules). Each difference is a Finding that
// says what it means and, when diag can repair it, how.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kv/consul.hpp"
#include "nl/socket.hpp"
#include "overlayctl/cli.hpp"
#include "overlayctl/snapshot.hpp"
#include "vxlan/datapath.hpp"

namespace ovl::ctl {

struct Finding {
  std::string network;  // "" when it concerns no network in particular
  std::string kind;     // stable identifier, e.g. "vxlan-missing"
  std::string object;   // what is affected, e.g. "ovx-4711" or "lease 10.0.0.9"
  std::string meaning;  // what the difference means for the containers
  std::function<Result<void>()> fix;  // empty: diag cannot repair it
  std::string outcome;  // after --fix: "fixed" or "fix failed: ..."
};

// Everything a round of checks reads once.
struct DiagInput {
  const Context& ctx;
  kv::ConsulClient& kv;
  nl::Socket& nl;
  Snapshot snap;
  std::vector<nl::LinkInfo> links;
  std::optional<vxlan::Underlay> underlay;  // nullopt when it cannot be resolved
  std::string underlayError;
  uint16_t port = 4789;

  const nl::LinkInfo* link(const std::string& name) const;
};

// Checks one network defined in the store.
Result<void> diagNetwork(DiagInput& in, const std::string& net, std::vector<Finding>& out);
// Overlay devices of VNIs that belong to no network in the store.
Result<void> diagOrphanDevices(DiagInput& in, std::vector<Finding>& out);
// Pairs of this host that the health mesh reports down or unable to carry the network MTU.
void diagHealth(DiagInput& in, std::vector<Finding>& out);
// gwbridge's nftables rules of containers that no longer exist on this host (only `net`'s when given).
Result<void> diagNftRules(DiagInput& in, const std::optional<std::string>& net, std::vector<Finding>& out);

}  // namespace ovl::ctl
