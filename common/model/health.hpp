// The health mesh's records (keys in model/keys.hpp, P/health/...). Every `overlay watch` holds one address
// on a reserved VXLAN network (the health VNI) inside a network namespace of its own, and probes the other
// members of its host's networks through the VXLAN path; its results are published as a report.
//   P/health/hosts/<host>    HealthHost: where the host answers probes (its VTEP, address and MAC)
//   P/health/addrs/<ip>      "<host>": the address's holder, created with check-and-set (one holder per address)
//   P/health/reports/<host>  HealthReport: written on a change of state and at least every 30 s, never per probe
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kv/consul.hpp"
#include "kv/node_config.hpp"
#include "model/keys.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::model {

inline constexpr uint32_t kDefaultHealthVni = 16777214;
inline constexpr const char* kDefaultHealthSubnet = "100.64.255.0/24";

// The node config's health VNI and subnet, or the defaults.
uint32_t healthVni(const kv::NodeConfig& node);
IpNet healthSubnet(const kv::NodeConfig& node);
// A network must not ask for the health VNI (Code::InvalidConfig naming `what`).
Result<void> refuseHealthVni(uint32_t vni, const kv::NodeConfig& node, std::string_view what);

struct HealthHost {
  std::string host;
  IpAddr vtep;
  IpAddr addr;
  MacAddr mac;
};

// One probed pair as the prober (the report's host) sees it.
struct PairHealth {
  std::string peer;
  bool up = false;
  double rttMs = 0;      // last answered echo
  unsigned largest = 0;  // largest IP packet (bytes, DF) answered, 0: none yet
  unsigned mtu = 0;      // the MTU probed for: the largest container MTU of the networks the pair shares
  unsigned lost = 0;     // rounds lost in a row
  int64_t since = 0;     // when the state last changed (seconds since the epoch)
};

struct HealthReport {
  std::string host;
  int64_t time = 0;
  std::vector<PairHealth> pairs;
};

std::string toJson(const HealthHost& h);
std::string toJson(const HealthReport& r);
Result<HealthHost> parseHealthHost(std::string_view key, std::string_view host, std::string_view value);
Result<HealthReport> parseHealthReport(std::string_view key, std::string_view host, std::string_view value);

// This host's health record: the one it holds if its address is in `subnet`, else a new one with the first
// free address from a hash of the name on (claimed through P/health/addrs/<ip> with check-and-set).
Result<HealthHost> ensureHealthHost(kv::ConsulClient& kv, const Keys& keys, const std::string& host, const IpAddr& vtep,
                                    const IpNet& subnet);

}  // namespace ovl::model
