// Every key of the cluster's state in Consul. Nothing else in the code spells a key path: plugins,
// the watcher, the resolver and overlayctl build keys here and classify listed keys here.
//
// Under the store prefix P (default "overlay-cni"):
//   P/cluster                                  {"id","created"}              the store's identity (see restore.hpp)
//   P/networks/<net>/config                    network definition            created once, check-and-set
//   P/networks/<net>/members/<host>            member record                 while <host> has containers on <net>
//   P/networks/<net>/changed                   (written by earlier versions to wake the watchers, which now follow
//                                               P/attachments/<net>/ too; recognised, never written)
//   P/vnis/<vni>                               "<net>" (VniReservation)      a VNI belongs to one network
//   P/attachments/<net>/<host>/<cid>/<ifname>  attachment record             one per container interface
//   P/hosts/<host>                             host record                   the host's identity claim
//   P/alive/<host>                             host record, session-held     while the host's watcher runs
//   P/health/hosts/<host>                      {"host","vtep","addr","mac"}  the host's address on the health mesh
//   P/health/addrs/<ip>                        "<host>"                      who holds a health address (check-and-set)
//   P/health/reports/<host>                    {"host","time","pairs":[...]} its watcher's probe results (health.hpp)
//   P/ipam/<pool>/leases/<ip>                  lease record                  who holds the address (host, network)
//   P/ipam/<pool>/owners/<host>/<cid>/<ifname> owner index ["10.0.0.2",...]  the attachment's leases on <host>
//   P/ipam/<pool>/cursor/<N>                   "10.0.0.2" (Cursor)           last address handed out in range set N
// Container IDs are not unique across hosts (ctr run --cni NAME gives <namespace>-<name> everywhere):
// every key naming a container also names its host.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ovl::model {

class Keys {
 public:
  // `root` is the client's key("") : the prefix with its trailing slash, or "" without a prefix.
  explicit Keys(std::string root) : root_(std::move(root)) {}

  std::string cluster() const { return root_ + "cluster"; }

  std::string networks() const { return root_ + "networks/"; }
  std::string network(std::string_view net) const { return networks() + std::string(net) + "/"; }
  std::string networkConfig(std::string_view net) const { return network(net) + "config"; }
  std::string members(std::string_view net) const { return network(net) + "members/"; }
  std::string member(std::string_view net, std::string_view host) const { return members(net) + std::string(host); }
  std::string changed(std::string_view net) const { return network(net) + "changed"; }
  std::string vni(uint32_t vni) const { return root_ + "vnis/" + std::to_string(vni); }

  std::string attachments() const { return root_ + "attachments/"; }
  std::string attachmentsOf(std::string_view net) const { return attachments() + std::string(net) + "/"; }
  // The network whose attachmentsOf() `prefix` is; nullopt for any other string.
  std::optional<std::string> networkOfAttachments(std::string_view prefix) const;
  std::string attachmentsOn(std::string_view net, std::string_view host) const {
    return attachmentsOf(net) + std::string(host) + "/";
  }
  std::string attachment(std::string_view net, std::string_view host, std::string_view cid,
                         std::string_view ifName) const {
    return attachmentsOn(net, host) + std::string(cid) + "/" + std::string(ifName);
  }

  std::string hosts() const { return root_ + "hosts/"; }
  std::string host(std::string_view host) const { return hosts() + std::string(host); }
  // Held by the host's `overlay watch` session while it runs; gone within the session TTL after it stops.
  std::string alive(std::string_view host) const { return root_ + "alive/" + std::string(host); }

  // The health mesh (model/health.hpp).
  std::string health() const { return root_ + "health/"; }
  std::string healthHosts() const { return health() + "hosts/"; }
  std::string healthHost(std::string_view host) const { return healthHosts() + std::string(host); }
  std::string healthAddr(std::string_view ip) const { return health() + "addrs/" + std::string(ip); }
  std::string healthReport(std::string_view host) const { return health() + "reports/" + std::string(host); }

  std::string pool(std::string_view pool) const { return root_ + "ipam/" + std::string(pool) + "/"; }
  std::string leases(std::string_view pool) const { return this->pool(pool) + "leases/"; }
  std::string lease(std::string_view pool, std::string_view ip) const { return leases(pool) + std::string(ip); }
  std::string owners(std::string_view pool) const { return this->pool(pool) + "owners/"; }
  std::string ownersOn(std::string_view pool, std::string_view host) const {
    return owners(pool) + std::string(host) + "/";
  }
  std::string owner(std::string_view pool, std::string_view host, std::string_view cid, std::string_view ifName) const {
    return ownersOn(pool, host) + std::string(cid) + "/" + std::string(ifName);
  }
  std::string cursor(std::string_view pool, size_t rangeSet) const {
    return this->pool(pool) + "cursor/" + std::to_string(rangeSet);
  }

  // What a listed key is. Unknown keys (other tools' data under the prefix) are Kind::Other.
  enum class Kind { Other, Cluster, NetworkConfig, Member, Changed, Vni, Attachment, Host, Alive, Lease, Owner, Cursor,
                    HealthHost, HealthAddr, HealthReport };
  struct Parsed {
    Kind kind = Kind::Other;
    std::string net, host, containerId, ifName, pool, ip;
    uint32_t vni = 0;
    size_t rangeSet = 0;
  };
  Parsed classify(std::string_view key) const;

  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

}  // namespace ovl::model
