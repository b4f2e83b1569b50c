// Keys read ahead for the IPAM that runs in this process (cni/delegate.hpp): the overlay plugin reads the IPAM's
// cursors and the store-identity marker in the transaction that lists its network, so that an ADD reads
// Consul once. The IPAM's Consul store takes them, once, instead of asking. Offered through model/offer.hpp; an
// exec'd IPAM never sees them and reads for itself.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kv/consul_types.hpp"
#include "model/offer.hpp"
#include "model/store_identity.hpp"

namespace ovl::model {

struct ReadAhead {
  StoreIdentity store;                 // the Consul and credentials they are for: only a reader with the same
  std::vector<std::string> keys;       // what to read; empty: nothing is read ahead
  bool read = false;                   // set once the keys were read
  bool taken = false;                  // set by the store that used them: a second pass reads for itself
  std::map<std::string, kv::KvPair, std::less<>> found;  // those of `keys` that exist

  // With `read`: the pair, or nullopt when the key does not exist. Without, or for a key not asked: no answer.
  std::optional<std::optional<kv::KvPair>> answer(std::string_view key) const;
};

}  // namespace ovl::model
