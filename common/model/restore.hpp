// The store forgets, the hosts remember. P/cluster names the store ({"id","created"}); each host keeps the
// id it last saw (memory.hpp). A host that finds the marker missing, or another id than the one it
// remembers, is looking at a store that lost its records: it puts back what it holds (network definitions,
// VNIs, its membership, its attachments, its leases and owner indexes), each only where absent, and never
// over another holder. A host that is about to hand out a new address (overlay-ipam ADD) then waits until
// the marker is kRestoreGraceSeconds old, so the other hosts' watchers (which check the marker on every
// wake-up) have put back theirs first. A host that never saw a store (a new cluster) does not wait.
#pragma once

#include <string>
#include <vector>

#include "kv/consul.hpp"
#include "model/keys.hpp"
#include "model/memory.hpp"
#include "util/error.hpp"

namespace ovl::model {

inline constexpr int kRestoreGraceSeconds = 3;

struct RestoreReport {
  int restored = 0;                    // records put back
  std::vector<std::string> conflicts;  // remembered records the store now gives to someone else
};

// Puts back every remembered record that the store lacks. Idempotent.
Result<RestoreReport> restoreHost(kv::ConsulClient& kv, const HostMemory& mem);

// Checks P/cluster (one read when the store is the one this host knows; none when the caller read it in a
// transaction of its own: `prefetched`) and restores as described above. `waitForOthers`: block until the
// grace period after a restore has passed (callers that allocate).
Result<void> ensureStoreRemembers(kv::ConsulClient& kv, HostMemory& mem, bool waitForOthers,
                                  const std::optional<kv::KvPair>* prefetched = nullptr);

}  // namespace ovl::model
