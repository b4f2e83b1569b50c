// The ipam section of a network configuration: host-local's keys (ranges, the legacy single-range keys,
// routes, dataDir, resolvConf) plus where leases live (store, consul, pool). Parsed once; errors name
// the field, e.g. "field 'ipam.ranges[0][1].rangeStart' 10.0.1.5 is outside subnet 10.0.0.0/24".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cni/config.hpp"
#include "cni/result.hpp"
#include "ipam/range_set.hpp"
#include "kv/node_config.hpp"
#include "util/error.hpp"

namespace ovl::ipam {

inline constexpr const char* kDefaultDataDir = "/var/lib/cni/networks";
inline constexpr const char* kDefaultStateDir = "/var/lib/cni/overlay";

struct IpamConf {
  std::vector<RangeSet> rangeSets;  // legacy single range first, then "ranges" in order
  std::vector<cni::Route> routes;
  std::string resolvConf;  // "" when unset; read at ADD time
  std::string dataDir = kDefaultDataDir;
  std::string pool;  // lease namespace; defaults to the network name
  kv::StoreSpec store;
  std::string stateDir = kDefaultStateDir;  // node config "stateDir": the journal of pending releases
  // Where the host remembers its leases (model/memory.hpp): the node's stateDir, shared with the overlay
  // plugin and the watcher, which puts them back when the store forgets.
  std::string hostStateDir = kv::kDefaultStateDir;
  std::string host;                         // this host's identity in the store
};

// What a verb needs: DEL and GC work from the store keys alone, so a range that no longer parses
// cannot keep a lease from being released.
enum class Need { Store, Ranges };

Result<IpamConf> parseIpamConf(const cni::NetConf& net, const kv::NodeConfig& node, Need need);

// The static addresses asked for, as host-local unions them: CNI_ARGS "IP=a[,b]", "args.cni.ips" and
// "runtimeConfig.ips" (capability "ips"). Prefixes are optional and ignored; duplicates are dropped.
Result<std::vector<IpAddr>> requestedIps(const std::optional<std::string>& cniArgsIp, const cni::NetConf& net);

// nameserver / domain / search / options lines of a resolv.conf-style file.
Result<cni::Dns> readResolvConf(const std::string& path);

}  // namespace ovl::ipam
