// One consistent read of everything overlayctl shows: a single recursive listing of the store prefix,
// parsed into networks, members, attachments, leases and hosts.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <vector>

#include "kv/consul.hpp"
#include "model/health.hpp"
#include "model/keys.hpp"
#include "model/network.hpp"
#include "util/error.hpp"

namespace ovl::ctl {

struct MemberView {
  std::string host, vtep;
  uint16_t port = 4789;
  uint64_t version = 0;  // ModifyIndex: repairs write only over what was read
  unsigned mtu = 0;      // its containers' MTU on the network; 0: not recorded
};

struct NetView {
  std::optional<model::NetworkDef> def;  // nullopt: members/attachments without a config record
  std::vector<MemberView> members;
};

struct AttachView {
  std::string net, host, containerId, ifName, mac;
  std::vector<std::string> ips;
  std::vector<std::string> names;  // container name and aliases
  int64_t time = 0;
  uint64_t version = 0;  // ModifyIndex
};

// "web,db" (container name, then aliases), or "" when the attachment recorded none.
std::string namesOf(const AttachView& a);
// "<containerID> (web,db)", or the ID alone: how messages name an attachment's container.
std::string describeContainer(const AttachView& a);

struct LeaseView {
  std::string pool, ip, containerId, ifName, host, network, time;
  uint64_t version = 0;  // ModifyIndex
};

struct HostView {
  std::string host, vtep, machineId;
  int64_t time = 0;
};

struct Snapshot {
  std::map<std::string, NetView> nets;
  std::vector<AttachView> attachments;
  std::vector<LeaseView> leases;
  std::vector<HostView> hosts;
  std::map<std::string, model::HealthReport> health;  // P/health/reports/<host>: its watcher's probes
  std::set<std::string> alive;  // hosts whose watcher holds P/alive/<host> (model/keys.hpp)
  std::vector<std::string> warnings;  // malformed records, reported by the commands that care

  std::vector<const AttachView*> attachmentsOf(const std::string& net) const;
  std::vector<const LeaseView*> leasesOf(const std::string& pool) const;
  // The leases of a network, whatever pool holds them (a lease written before leases named their network
  // counts for the pool of the network's name).
  std::vector<const LeaseView*> leasesOfNetwork(const std::string& net) const;
  const NetView* net(const std::string& name) const;
};

// The newest time (seconds since the epoch) `host` wrote its claim or one of its attachment records, 0 when the
// store holds neither: the only sign of life of a host that runs no watcher.
int64_t lastActivity(const Snapshot& s, const std::string& host);

Result<Snapshot> readSnapshot(kv::ConsulClient& kv);
// The snapshot of a recursive listing of the prefix (no I/O): malformed records become warnings.
Snapshot snapshotOf(const model::Keys& keys, const std::vector<kv::KvPair>& pairs);

// Fails with a message naming the network when it is not defined.
Result<const NetView*> requireNetwork(const Snapshot& s, const std::string& name);

}  // namespace ovl::ctl
