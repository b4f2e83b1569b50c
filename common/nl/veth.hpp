// veth pairs with the peer created directly in another network namespace.
#pragma once

#include <optional>
#include <string_view>

#include "nl/host_ipv6.hpp"
#include "nl/link.hpp"

namespace ovl::nl {

struct VethPair {
  LinkInfo host;      // the end in hostSock's namespace, up
  int peerIndex = 0;  // ifindex of the peer inside its namespace
};

// Creates hostName (in hostSock's namespace) paired with peerName created inside peerNetnsFd, sets mtu on
// both ends (0: kernel default) and peerMac on the peer, and brings the host end up (the peer stays down).
// If either name is taken the error has sysErrno EEXIST and names the host end. hostIpv6 is applied to
// the host end before it comes up.
Result<VethPair> createVeth(Socket& hostSock, std::string_view hostName, std::string_view peerName,
                            int peerNetnsFd, unsigned mtu, std::optional<MacAddr> peerMac,
                            std::optional<HostIpv6> hostIpv6 = std::nullopt);

}  // namespace ovl::nl
