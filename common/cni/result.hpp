// The CNI result (and IPAM result), modelled as the 1.1.0 superset, read from and written in any
// supported version.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/json.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::cni {

struct Interface {
  std::string name;
  std::string mac;
  std::optional<int64_t> mtu;  // 1.1.0
  std::string sandbox;
  std::string socketPath;      // 1.1.0
  std::string pciID;           // 1.1.0
  bool operator==(const Interface&) const = default;
};

struct IpConfig {
  IpNet address;
  std::optional<IpAddr> gateway;
  std::optional<int> interface;  // index into interfaces
  bool operator==(const IpConfig&) const = default;
};

struct Route {
  IpNet dst;
  std::optional<IpAddr> gw;
  std::optional<int64_t> mtu, advmss, priority, table, scope;  // 1.1.0
  bool operator==(const Route&) const = default;
};

struct Dns {
  std::vector<std::string> nameservers;
  std::string domain;
  std::vector<std::string> search;
  std::vector<std::string> options;
  bool empty() const { return nameservers.empty() && domain.empty() && search.empty() && options.empty(); }
  bool operator==(const Dns&) const = default;
};

struct NetResult {
  std::string cniVersion;
  std::vector<Interface> interfaces;
  std::vector<IpConfig> ips;
  std::vector<Route> routes;
  Dns dns;
  bool operator==(const NetResult&) const = default;
};

// Reads a result object of any supported version. `path` names it in errors (e.g. "prevResult").
// Validates what a later plugin relies on: CIDRs, IPs, interface indexes within range.
Result<NetResult> parseResult(const json::Value& v, std::string_view path);
Result<NetResult> parseResultText(std::string_view text, std::string_view path);

// Writes `r` as the given version wants it: "version" on ips before 1.0.0, 1.1.0-only fields dropped
// below 1.1.0.
void writeResult(json::Writer& w, const NetResult& r, std::string_view version);
std::string resultToJson(const NetResult& r, std::string_view version);

}  // namespace ovl::cni
