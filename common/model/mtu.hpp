// One MTU per network: every container of a network, on every host, gets the same MTU, and a host whose
// underlay cannot carry it does not join. Each member record says the MTU its containers use (`mtu`) and
// its underlay's MTU (`underlayMtu`); records written before these fields existed say neither and are left
// out of the decision.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/records.hpp"
#include "util/error.hpp"

namespace ovl::model {

struct MtuInput {
  std::string network;
  std::string self;                  // this host's name
  std::string underlayName;          // this host's underlay interface, for messages
  unsigned underlayMtu = 0;          // this host's underlay MTU
  unsigned overhead = 50;            // VXLAN encapsulation: 50 bytes over IPv4, 70 over IPv6
  std::optional<unsigned> configured;  // the network config's "mtu"
  std::vector<Member> members;       // as the store lists them (may include this host)
};

// The largest container MTU an underlay MTU carries (at least 576).
unsigned carriedMtu(unsigned underlayMtu, unsigned overhead);

// The MTU for this host's containers on the network:
// - configured: that, if this host and every member that says its underlay MTU can carry it;
// - else the smallest `mtu` other members use (the network's MTU), if this host can carry it;
// - else (the first member, or only records without MTU) what this host's underlay carries.
// Code::InvalidConfig naming the host and the figures when a host cannot carry it.
Result<unsigned> networkMtu(const MtuInput& in);

}  // namespace ovl::model
