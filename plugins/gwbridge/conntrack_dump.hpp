// Conntrack entries through NETLINK_NETFILTER: a dump (filtered by the kernel with CTA_FILTER, Linux 5.9+,
// when the query has a filter), and deleting one entry. Entries are read as they arrive and only those
// kept stay in memory; nothing holds the table.
#pragma once

#include <netlink/netfilter/ct.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "gwbridge/conntrack_plan.hpp"
#include "nl/handles.hpp"
#include "util/error.hpp"

namespace ovl::gwbridge {

using CtPtr = nl::CPtr<nfnl_ct, nfnl_ct_put>;

// A NETLINK_NETFILTER socket in the calling thread's namespace.
Result<nl::SockPtr> openCtSocket();

// The entries the kernel selects for q for which keep() is true. keep() always runs: kernels before 5.9
// ignore the filter and send everything of the family.
Result<std::vector<CtPtr>> dumpConntrack(nl_sock* s, const CtQuery& q, const std::function<bool(nfnl_ct&)>& keep);

// Deletes one entry; true when it was deleted, false when it was already gone.
Result<bool> deleteConntrack(nl_sock* s, const nfnl_ct& ct);

}  // namespace ovl::gwbridge
