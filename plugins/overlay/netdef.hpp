// Network definitions recorded in the store by `overlayctl network create`, and the plugin hook that lets
// a conflist refer to such a network by name only.
//
// P/networks/<net>/config holds {"vni":N,"scope":"global"} (written by Cluster::ensureVni) and, for a
// network created by overlayctl, also
//   "subnets": [{"subnet":"10.0.0.0/24","gateway":"10.0.0.1","ipRange":"10.0.0.128/25"}, ...],
//   "created": "2024-05-01T12:00:00Z"
// Leases of the network live in the overlay-ipam pool named after the network.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/config.hpp"
#include "cni/skel.hpp"
#include "kv/consul.hpp"
#include "model/network.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::overlay {

using model::definitionJson;
using model::makeSubnetDef;
using model::NetworkDef;
using model::parseDefinition;
using model::SubnetDef;

// The definition of `net` in the store; nullopt when the network is not defined.
Result<std::optional<NetworkDef>> readDefinition(kv::ConsulClient& kv, const std::string& net);

// overlay-ipam's "ranges" for the definition: one range set per address family.
void writeIpamRanges(rapidjson::Value& ipam, const NetworkDef& d, rapidjson::Document::AllocatorType& a);

// A conflist may refer to a network by name only (no "ipam", or an overlay-ipam section without
// "ranges"/"subnet"): the ranges come from the network's definition in the store.
// The IPAM's stdin for ADD and CHECK: the configuration with `def`'s vni and ranges merged in when it needs
// them; unchanged otherwise. Code 7 naming the network when it needs them and the store defines none.
Result<std::string> ipamStdin(const cni::CmdArgs& args, const cni::NetConf& conf, const std::optional<NetworkDef>& def);
// Whether the IPAM's section waits for the network's definition (ipamStdin merges it in).
bool needsDefinition(const cni::NetConf& conf);

// Wraps the plugin's verbs: every verb gets the default ipam section ({"type":"overlay-ipam"}) and the
// cluster store for it (without contacting the store); STATUS also gets the definition's ranges, read here.
// ADD and CHECK merge the definition themselves (ipamStdin) from the records they read anyway.
cni::Plugin withStoredDefinitions(cni::Plugin inner);

}  // namespace ovl::overlay
