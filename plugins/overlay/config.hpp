// The overlay plugin's configuration: plugin keys, then the node config, then the environment.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cni/config.hpp"
#include "kv/node_config.hpp"
#include "model/records.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::overlay {

using model::kMaxVni;

struct OverlayConf {
  std::string network;          // the CNI network name: one overlay cluster-wide
  std::optional<uint32_t> vni;  // absent: allocated in the store for the network name
  kv::StoreSpec store;
  std::optional<std::string> advertise;  // interface name or address; absent: default-route interface
  uint16_t port = 4789;
  std::optional<unsigned> mtu;           // absent: underlay MTU - 50 (IPv4) or - 70 (IPv6)
  std::string hostName;                  // this host's identity in the store
  std::string stateDir = kv::kDefaultStateDir;
  std::optional<MacAddr> mac;            // from runtimeConfig.mac (capability "mac") or CNI_ARGS MAC=
  std::string ipamType;
  bool resolver = true;                  // "resolver": false keeps this network out of the name resolver
};

// Parses `conf` (already validated by skel). `argsMac` is CNI_ARGS MAC= when given. readMac false skips
// the runtime-supplied MAC (runtimeConfig.mac): DEL must clean up even when the runtime sends a bad one.
Result<OverlayConf> parseOverlayConf(const cni::NetConf& conf, const std::optional<std::string>& argsMac,
                                     bool readMac = true);
// The same with the node config given: no I/O (unit-tested).
Result<OverlayConf> parseOverlayConf(const cni::NetConf& conf, const kv::NodeConfig& node,
                                     const std::optional<std::string>& argsMac, bool readMac = true);

}  // namespace ovl::overlay
