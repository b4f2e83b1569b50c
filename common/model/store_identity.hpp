// Which Consul, and with which credentials, a part of a plugin process reads and writes: the overlay plugin lets
// the IPAM it runs in its process (cni/delegate.hpp) read ahead for it or carry its writes (model/read_ahead.hpp,
// model/lease_companion.hpp) only when the IPAM's store is the same, so that records never go to another
// Consul, nor with another token, than their owner's configuration names.
#pragma once

#include <string>
#include <vector>

#include "kv/consul_config.hpp"

namespace ovl::model {

struct StoreIdentity {
  std::vector<std::string> addresses;  // normalized, as a client's kv::ConsulConfig holds them
  std::string token, tokenFile;

  // Of a client's configuration (its addresses are normalized).
  static StoreIdentity of(const kv::ConsulConfig& cfg) { return {cfg.addresses, cfg.token, cfg.tokenFile}; }
  // Whether a client with `cfg` reaches the same keys with the same rights. Empty: never (nothing offered).
  bool matches(const kv::ConsulConfig& cfg) const {
    return !addresses.empty() && addresses == cfg.addresses && token == cfg.token && tokenFile == cfg.tokenFile;
  }
};

}  // namespace ovl::model
