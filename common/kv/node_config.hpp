// The node-level config file (the role of Docker's --cluster-store / --cluster-advertise daemon flags),
// shared by overlay, overlay-ipam, gwbridge and overlayctl so conflists need not repeat it.
//
// Location: $OVL_NODE_CONFIG, else /etc/cni/overlay-node.json. A missing file is an empty config.
// {
//   "store": "consul://198.51.100.10:8500",   // or consul+https://, several comma-separated
//   "consul": { "token": "...", "caFile": "...", ... },  // see kv::parseConsulObject
//   "advertise": "eth0" | "198.51.100.11",      // underlay interface or address (VTEP)
//   "hostName": "h1",                            // identity of this host in the store
//   "port": 4789,                                // VXLAN UDP port
//   "stateDir": "/var/lib/cni/overlay",          // local state (journal, lease files)
//   "metrics": { "listen": "127.0.0.1:9474" }    // `overlay watch` serves Prometheus metrics there (off without)
//   "health": { "vni": 16777214,                 // the health mesh's reserved VNI (model/health.hpp)
//               "subnet": "100.64.255.0/24" }    // its addresses, inside the watcher's health namespace
// }
// Precedence for every key: the plugin's own config, then this file, then the CONSUL_* environment.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "cni/json.hpp"
#include "kv/consul_config.hpp"
#include "metrics/listen_addr.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::kv {

inline constexpr const char* kDefaultNodeConfig = "/etc/cni/overlay-node.json";
// The node config's "stateDir" when it names none: this host's locks, VNI cache, memory of its records
// (model/memory.hpp), the resolver's socket. Volatile on purpose: none of it outlives the containers.
inline constexpr const char* kDefaultStateDir = "/run/overlay-cni";

struct NodeConfig {
  std::string path;  // the file read, "" when none exists
  std::optional<std::string> store;
  std::shared_ptr<json::Doc> doc;            // keeps `consul` alive
  const json::Value* consul = nullptr;       // the "consul" object, or null
  std::optional<std::string> advertise;
  std::optional<std::string> hostName;
  std::optional<int64_t> port;
  std::optional<std::string> stateDir;
  std::optional<metrics::ListenAddr> metricsListen;  // "metrics": {"listen": ...}
  std::optional<int64_t> healthVni;
  std::optional<IpNet> healthSubnet;
  bool healthEnabled = true;  // "health": {"enabled": false} turns the watcher's health mesh off
  // "arp": {"floodAfterMs": N}: an ARP request the watcher has not answered N ms after its report is sent
  // on to every member of the network (0: never; overlay/miss_answerer.hpp).
  int64_t arpFloodAfterMs = 50;
};

// The node config (OVL_NODE_CONFIG, else kDefaultNodeConfig), read once per process and path.
Result<NodeConfig> loadNodeConfig();
Result<NodeConfig> parseNodeConfig(std::string_view text, std::string_view path);

// Where a plugin keeps its data. kind File means no cluster store is configured.
struct StoreSpec {
  enum Kind { File, Consul } kind = File;
  ConsulConfig consul;
};

// Resolves the store from `obj` (a plugin or ipam section holding optional "store" and "consul" keys,
// named `path` in errors), then the node config, then the environment.
//  - "store": "consul://H:P" (or consul+https://, https://, several comma-separated): that Consul;
//  - "store": "consul": the node config's cluster store (else CONSUL_HTTP_ADDR);
//  - "store": "file" / "local": the local file store;
//  - no "store": the node config's store when `nodeByDefault` (the overlay plugin, which needs a cluster),
//    else the file store (overlay-ipam's embedded default).
// Consul settings: node config "consul" object, then the plugin's "consul" object, then CONSUL_* env.
// The addresses come out in the order this host tries them (kv::spreadAddresses, by hostIdentity).
Result<StoreSpec> resolveStore(const json::Value* obj, std::string_view path, const NodeConfig& node,
                               bool nodeByDefault);

// This host's identity in the store: node "hostName", else the hostname of the UTS namespace.
std::string hostIdentity(const NodeConfig& node);

}  // namespace ovl::kv
