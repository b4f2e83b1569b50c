// Writes that ride in the same Consul transaction as a lease: the overlay plugin, whose IPAM runs in its process
// (cni/delegate.hpp), hands the IPAM's Consul store the attachment, member and host records to commit with the
// reservation, so an ADD writes once. Process-global on purpose (a plugin process serves one call); an exec'd
// IPAM never sees it, and the caller then writes its records itself.
#pragma once

#include <functional>
#include <vector>

#include "kv/consul_types.hpp"
#include "util/ip.hpp"

namespace ovl::model {

struct LeaseCompanion {
  // The operations to add, given the addresses being reserved with their prefixes (in the reservation's order).
  std::function<std::vector<kv::TxnOp>(const std::vector<IpNet>&)> ops;
  // Set by the store when a reservation carrying them was sent: an answer lost or refused after that may still
  // have been applied (a leader that replicated it and died), so the caller deletes its records when the IPAM
  // fails.
  bool sent = false;
  // Set by the store once a reservation carrying them committed: with the addresses it reserved.
  bool committed = false;
  std::vector<IpNet> ips;
};

// The slot the IPAM's Consul store looks at: null when no caller asked.
LeaseCompanion* leaseCompanion();

// Fills the slot while it lives.
class ScopedLeaseCompanion {
 public:
  explicit ScopedLeaseCompanion(LeaseCompanion& c);
  ~ScopedLeaseCompanion();
  ScopedLeaseCompanion(const ScopedLeaseCompanion&) = delete;
  ScopedLeaseCompanion& operator=(const ScopedLeaseCompanion&) = delete;
};

}  // namespace ovl::model
