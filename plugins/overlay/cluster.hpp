// The overlay's cluster state in Consul: network definitions with their VNI, member hosts (VTEPs) and
// attachments. Key layout, under the store prefix P (default "overlay-cni"):
//   P/networks/<net>/config               {"vni":N,...}        one per network, created once (CAS 0)
//   P/vnis/<vni>                          "<net>"              reverse index: a VNI belongs to one network
//   P/networks/<net>/members/<host>       {"host","vtep","port","vni"}  while <host> has containers on <net>
//   P/attachments/<net>/<host>/<cid>/<if> {"containerID","ifname","host","ips","mac","time"}
//   P/hosts/<host>                        {"host","vtep","time}  every host that ever attached
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kv/consul.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::overlay {

struct Member {
  std::string host;
  IpAddr vtep;
  uint16_t port = 4789;
};

struct NetworkState {
  std::optional<uint32_t> vni;  // from P/networks/<net>/config
  uint64_t configIndex = 0;
  std::vector<Member> members;
};

struct AttachmentRecord {
  std::string containerId, ifName, host, mac;
  std::vector<std::string> ips;
  std::vector<std::string> names;  // DNS names (container name, aliases), canonical
};

class Cluster {
 public:
  static Result<Cluster> connect(const kv::ConsulConfig& cfg);

  // One round trip: the network's config and members.
  Result<NetworkState> readNetwork(const std::string& net);
  // Returns the network's VNI, creating the definition when absent: with `wanted` if given (an error if
  // the store already records another VNI, or another network owns it), else a free VNI derived from the
  // name. `state` is what readNetwork returned.
  Result<uint32_t> ensureVni(const std::string& net, std::optional<uint32_t> wanted, const NetworkState& state);
  // One transaction: membership of this host, the attachment, and the host registration.
  Result<void> recordAttachment(const std::string& net, uint32_t vni, const Member& self, const AttachmentRecord& a);
  Result<void> deleteAttachment(const std::string& net, const std::string& host, const std::string& cid,
                                const std::string& ifName);
  Result<std::vector<AttachmentRecord>> listAttachments(const std::string& net, const std::string& host);
  Result<void> withdrawMember(const std::string& net, const std::string& host);
  Result<void> ping() { return kv_.ping(); }
  kv::ConsulClient& kv() { return kv_; }

 private:
  explicit Cluster(kv::ConsulClient c) : kv_(std::move(c)) {}
  kv::ConsulClient kv_;
};

// Parses members from a recursive listing of P/networks/<net>/ (exposed for the watcher).
NetworkState parseNetworkListing(const kv::ConsulClient& kv, const std::string& net,
                                 const std::vector<kv::KvPair>& pairs);

}  // namespace ovl::overlay
