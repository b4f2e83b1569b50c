// The records stored under the keys of keys.hpp: one type, one writer and one reader each. Readers are
// bounded (json::parseInto) and validate: a bad record is a Code::Decode error naming its key, never a crash,
// and callers report and skip it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::model {

inline constexpr uint32_t kMaxVni = 16777215;  // VXLAN network identifiers are 24 bits

// P/networks/<net>/members/<host>: <host> has containers on <net>, reachable at vtep:port, with MTU `mtu`.
struct Member {
  std::string host;
  IpAddr vtep;
  uint16_t port = 4789;
  uint32_t vni = 0;
  unsigned mtu = 0;          // the MTU of this host's containers on the network; 0: not recorded (older writer)
  unsigned underlayMtu = 0;  // this host's underlay MTU; 0: not recorded
  bool operator==(const Member&) const = default;
};

// P/hosts/<host>: who claims the name. `machineId` is what readMachineId gives on the host that claimed it
// (/etc/machine-id and its network namespace); a second machine claiming the same name is refused (identity.hpp).
struct Host {
  std::string host;
  IpAddr vtep;
  std::string machineId;
  int64_t time = 0;  // seconds since the epoch of the last claim or refresh
};

// P/attachments/<net>/<host>/<cid>/<ifname>.
struct Attachment {
  std::string network, host, containerId, ifName, mac;
  std::vector<std::string> ips;    // CIDRs as in the CNI result
  std::vector<std::string> names;  // DNS names (container name, aliases), canonical
  int64_t time = 0;
};

// P/ipam/<pool>/leases/<ip>: which attachment on which host and network holds the address.
struct Lease {
  std::string containerId, ifName, host, network;
  std::string time;  // RFC 3339, UTC
  bool operator==(const Lease&) const = default;
};

// P/vnis/<vni>: which network holds the VNI. The value is the network's name, bare (not JSON).
struct VniReservation {
  std::string network;
  bool operator==(const VniReservation&) const = default;
};

// P/ipam/<pool>/cursor/<set>: the address the range set last handed out. The value is the address, bare.
struct Cursor {
  IpAddr ip;
  bool operator==(const Cursor&) const = default;
};

// P/cluster: this store's identity; a host that finds another (or none) knows the store forgot (restore.hpp).
struct StoreMarker {
  std::string id;
  int64_t created = 0;
  bool operator==(const StoreMarker&) const = default;
};

std::string toJson(const StoreMarker& m);
std::string toJson(const Member& m);
std::string toJson(const Host& h);
std::string toJson(const Attachment& a);
std::string toJson(const Lease& l);
std::string ownerIndexJson(const std::vector<IpAddr>& ips);
std::string toValue(const VniReservation& v);
std::string toValue(const Cursor& c);

// `key` names the record in errors; the identifying parts come from the key (keys.hpp), the rest from the value.
Result<Member> parseMember(std::string_view key, std::string_view host, std::string_view value);
Result<Host> parseHost(std::string_view key, std::string_view host, std::string_view value);
Result<Attachment> parseAttachment(std::string_view key, std::string_view net, std::string_view host,
                                   std::string_view cid, std::string_view ifName, std::string_view value);
Result<Lease> parseLease(std::string_view key, std::string_view value);
Result<std::vector<IpAddr>> parseOwnerIndex(std::string_view key, std::string_view value);
Result<VniReservation> parseVniReservation(std::string_view key, std::string_view value);
Result<Cursor> parseCursor(std::string_view key, std::string_view value);
Result<StoreMarker> parseStoreMarker(std::string_view key, std::string_view value);

}  // namespace ovl::model
