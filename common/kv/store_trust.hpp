// Credentials belong to the node (issue 16). Network configs may be written by people other than the
// node's admin (Multus NetworkAttachmentDefinitions, shared conflist directories), so:
//  - the node names the stores it trusts: the node config's "store" and "consul.addresses", and
//    CONSUL_HTTP_ADDR in the runtime's environment;
//  - the node's credentials (token, tokenFile, certFile, keyFile from the node config or the CONSUL_*
//    environment) go only to those stores;
//  - a network config naming another store is refused (Code::InvalidConfig) when the node names any
//    store: it could otherwise take another network's VNI or addresses outside the cluster's store.
//    When the node names none (every network config carries its own store), it is used without the
//    node's credentials, with at most the network config's own inline "consul.token";
//  - a network config names no file: tokenFile, caFile, certFile and keyFile are refused (a root
//    process would read any file for it, and send a token file's first line as X-Consul-Token).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/json.hpp"
#include "kv/consul_config.hpp"
#include "util/error.hpp"

namespace ovl::kv {

struct NodeConfig;

// The normalized addresses ("http://h:p") the node trusts, in the order named; empty when it names none.
Result<std::vector<std::string>> trustedAddresses(const NodeConfig& node);

// Code::InvalidConfig naming the field ("ipam.consul.tokenFile") when a network config's "consul" object
// (at path) names a file.
Result<void> refuseNetworkFiles(const json::Value& consulObj, std::string_view path);

// Applies the rule to cfg, fully resolved, whose addresses were chosen by a network config (named
// `field` in errors). networkToken: the network config's own consul.token, if any.
Result<void> limitCredentials(ConsulConfig& cfg, const std::vector<std::string>& trusted,
                              const std::optional<std::string>& networkToken, std::string_view field);

}  // namespace ovl::kv
