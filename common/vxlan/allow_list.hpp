// The VXLAN allow-list in this host's network namespace (its objects: vxlan/allow_rules.hpp). Its sets are kept
// where the flood list is kept: ADD adds the members it read (FloodSync::AddOnly), `overlay watch` makes them
// exact, and the teardown of a network's devices removes that VNI's pairs. The dropping chain exists only
// while a watcher runs (enforce() at its start, relax() at its exit): without a watcher nothing tells this
// host that a member joined, and a strict list would cut the new member off.
#pragma once

#include <cstdint>
#include <set>
#include <vector>

#include "model/records.hpp"
#include "util/error.hpp"
#include "vxlan/allow_rules.hpp"
#include "vxlan/datapath.hpp"

namespace ovl::vxlan {

class AllowList {
 public:
  static Result<AllowList> open();

  // What the kernel holds now (an absent table is an empty, unenforced list).
  Result<AllowListing> read();
  // Makes `vni`'s pairs hold the VTEPs of `members` other than `self`, like reconcileFlood. Call under the
  // network's HostLock: pairs of one VNI are only changed under it.
  Result<void> sync(uint32_t vni, const IpAddr& self, const std::vector<model::Member>& members, FloodSync sync);
  // Adds `vni`'s pairs for `vteps` without reading the sets first (adding a pair that is there is success):
  // the watcher's step for members that joined. Under the network's HostLock.
  Result<void> admit(uint32_t vni, const std::set<IpAddr>& vteps);
  // Removes every pair of `vni` (under the network's HostLock).
  Result<void> forget(uint32_t vni);
  // Drops VXLAN to `port` from pairs not in the sets / stops dropping. Idempotent.
  Result<void> enforce(uint16_t port);
  Result<void> relax();
  // Hosts that joined `vni`: their VTEPs admitted (admit()) and their flood entries appended to the VXLAN
  // device, without reading anything back (both idempotent). Under the network's HostLock.
  Result<void> join(nl::Socket& s, const NetDevices& dev, uint32_t vni, const std::set<IpAddr>& vteps);

 private:
  AllowList() = default;
  Result<void> apply(uint32_t vni, const std::set<IpAddr>& want, bool exact);
};

}  // namespace ovl::vxlan
