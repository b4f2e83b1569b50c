// Removing conntrack entries that would bypass new or removed NAT rules (stale UDP flows in particular).
#pragma once

#include <span>

#include "gwbridge/conntrack_plan.hpp"
#include "util/error.hpp"

namespace ovl::gwbridge {

// Deletes the matching entries of the calling thread's network namespace, one by one, found with the
// dumps planDumps() picks for this namespace's table; nothing else is touched: a masqueraded outbound
// flow of another container to the same port number stays. Returns how many were deleted; entries that
// vanish meanwhile are not errors. Nothing is dumped when the namespace tracks nothing.
Result<int> flushConntrack(const CtFilter& f);

// The same with the dumps given (tests run both plans against one kernel).
Result<int> flushConntrack(const CtFilter& f, std::span<const CtQuery> dumps);

}  // namespace ovl::gwbridge
