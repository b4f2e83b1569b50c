// Writes that ride in the same Consul transaction as a lease: the overlay plugin, whose IPAM runs in its process
// (cni/delegate.hpp), hands the IPAM's Consul store the attachment, member and host records to commit with the
// reservation, so an ADD writes once; and on DEL the attachment's deletion, committed with the release, so a
// DEL writes once. Offered through model/offer.hpp; an exec'd IPAM never sees them, and the caller then writes
// its records itself.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "kv/consul_types.hpp"
#include "model/offer.hpp"
#include "model/store_identity.hpp"
#include "util/ip.hpp"

namespace ovl::model {

struct LeaseCompanion {
  // Only a store with the caller's Consul and credentials carries them.
  StoreIdentity store;
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

// The DEL side: operations the IPAM's Consul store adds to the transaction that deletes a container's owner
// index and leases. Only the release of this container's interface (not a journaled one of another), and only
// by a store with the caller's Consul and credentials.
struct ReleaseCompanion {
  std::string containerId;
  std::string ifName;
  StoreIdentity store;
  std::vector<kv::TxnOp> ops;
  // Set by the store once a release carrying them committed: the caller has nothing left to write.
  bool committed = false;
  // Set by the store when one of them failed the transaction (e.g. the token may not
  // write the overlay's keys): the release was sent again without them, and the caller writes them itself.
  bool refused = false;
};

}  // namespace ovl::model
