// veth pairs with the peer created directly in another network namespace.
#pragma once

#include <optional>
#include <string_view>

#include "nl/link.hpp"

namespace ovl::nl {

struct VethPair {
  LinkInfo host;      // the end in hostSock's namespace, up
  int peerIndex = 0;  // ifindex of the peer inside its namespace
};

// Creates hostName (in hostSock's namespace) paired with peerName created inside peerNetnsFd, sets mtu on
// both ends (0: kernel default) and peerMac on the peer, and brings the host end up (the peer stays down).
// If either name is taken the error has sysErrno EEXIST and names the host end.
Result<VethPair> createVeth(Socket& hostSock, std::string_view hostName, std::string_view peerName,
                            int peerNetnsFd, unsigned mtu, std::optional<MacAddr> peerMac);

}  // namespace ovl::nl
