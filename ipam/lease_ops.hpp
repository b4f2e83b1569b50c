// CHECK, GC and STATUS over a LeaseStore (DEL is LeaseStore::releaseByOwner).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "cni/config.hpp"
#include "cni/result.hpp"
#include "ipam/lease_store.hpp"
#include "ipam/range_set.hpp"

namespace ovl::ipam {

// The attachment holds at least one lease, each still recorded as its own, and when prevResult is
// given its addresses in our ranges are exactly the leases.
Result<void> checkLeases(const std::vector<RangeSet>& sets, LeaseStore& store, std::string_view containerId,
                         std::string_view ifName, const std::optional<cni::NetResult>& prev);

// Releases the leases of `host` on `network` whose attachment is not in `valid`; never another host's nor
// another network's (pools can be shared). Returns how many were released.
Result<size_t> collectGarbage(LeaseStore& store, std::string_view host, std::string_view network, std::string_view pool,
                              const std::vector<cni::Attachment>& valid);

// Code 50 when the store does not answer or a range set has no free address left.
Result<void> checkReady(const std::vector<RangeSet>& sets, LeaseStore& store);

}  // namespace ovl::ipam
