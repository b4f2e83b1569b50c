// The overlay's view of the cluster state (keys and records: common/model/): the network's definition and
// VNI, member hosts (VTEPs) and this host's attachments.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kv/consul.hpp"
#include "model/keys.hpp"
#include "model/network.hpp"
#include "model/read_ahead.hpp"
#include "model/records.hpp"
#include "util/error.hpp"
#include "util/ip.hpp"

namespace ovl::model {

using AttachmentRecord = Attachment;

struct NetworkState {
  std::optional<uint32_t> vni;  // from P/networks/<net>/config
  std::optional<model::NetworkDef> def;
  std::optional<std::string> configError;  // the config record exists but cannot be read
  uint64_t configIndex = 0;
  std::vector<Member> members;
};

class Cluster {
 public:
  static Result<Cluster> connect(const kv::ConsulConfig& cfg);

  // One round trip: the network's config and members; with `ahead` (model/read_ahead.hpp) its keys too, in the
  // same transaction, when it is for this Consul.
  Result<NetworkState> readNetwork(const std::string& net, ReadAhead* ahead = nullptr);
  // Returns the network's VNI, creating the definition when absent: with `wanted` if given (an error if
  // the store already records another VNI, or another network owns it), else a free VNI derived from the
  // name. `state` is what readNetwork returned.
  Result<uint32_t> ensureVni(const std::string& net, std::optional<uint32_t> wanted, const NetworkState& state);
  // One transaction: membership of this host, the attachment, and the host record (refreshed; claimed
  // before by model::ensureHostClaim).
  Result<void> recordAttachment(uint32_t vni, const Member& self, const model::Host& host, const AttachmentRecord& a);
  // What recordAttachment writes, for a caller that commits it with its lease (model/lease_companion.hpp).
  std::vector<kv::TxnOp> attachmentOps(uint32_t vni, const Member& self, const model::Host& host,
                                       const AttachmentRecord& a) const;
  // Deletes the attachment record. Idempotent.
  Result<void> deleteAttachment(const std::string& net, const std::string& host, const std::string& cid,
                                const std::string& ifName);
  // What deleteAttachment sends, for a caller that commits it with the lease release
  // (model::ReleaseCompanion).
  std::vector<kv::TxnOp> attachmentDeletionOps(const std::string& net, const std::string& host, const std::string& cid,
                                               const std::string& ifName) const;
  Result<std::vector<AttachmentRecord>> listAttachments(const std::string& net, const std::string& host);
  // Every host's attachments of the network.
  Result<std::vector<AttachmentRecord>> listAttachments(const std::string& net);
  // The attachment records of a listing of P/attachments/<net>/ (malformed ones are logged and left out).
  std::vector<AttachmentRecord> parseAttachments(const std::vector<kv::KvPair>& pairs) const;
  // Puts this host's member record (idempotent).
  Result<void> ensureMember(const std::string& net, const Member& self);
  Result<void> withdrawMember(const std::string& net, const std::string& host);
  Result<void> ping() { return kv_.ping(); }
  kv::ConsulClient& kv() { return kv_; }
  const model::Keys& keys() const { return keys_; }

 private:
  explicit Cluster(kv::ConsulClient c) : kv_(std::move(c)), keys_(kv_.key("")) {}
  kv::ConsulClient kv_;
  model::Keys keys_;
};

// Code::Decode naming the record when the network's definition exists but cannot be read.
Result<void> requireReadable(const std::string& net, const NetworkState& state);

// Parses the network's config and members from a listing that holds P/networks/<net>/ (exposed for the
// watcher). Malformed records are logged and skipped.
NetworkState parseNetworkListing(const model::Keys& keys, const std::string& net, const std::vector<kv::KvPair>& pairs);

}  // namespace ovl::model
