#include "model/cluster.hpp"

#include <algorithm>
#include <ctime>

#include "model/network.hpp"
#include "util/log.hpp"

namespace ovl::model {
namespace {

std::string configJson(uint32_t vni) {
  model::NetworkDef d;
  d.vni = vni;
  return model::definitionJson(d);
}

// Who holds a VNI, for errors: "network 'x'", or what is wrong with the record.
std::string describeHolder(const std::optional<kv::KvPair>& owner) {
  if (!owner) return "no network";
  auto r = parseVniReservation(owner->key, owner->value);
  return r ? "network '" + r->network + "'" : r.error().msg;
}

bool heldBy(const std::optional<kv::KvPair>& owner, std::string_view net) {
  if (!owner) return false;
  auto r = parseVniReservation(owner->key, owner->value);
  return r && r->network == net;
}

}  // namespace

Result<Cluster> Cluster::connect(const kv::ConsulConfig& cfg) {
  auto c = TRY(kv::ConsulClient::create(cfg));
  return Cluster(std::move(c));
}

NetworkState parseNetworkListing(const model::Keys& keys, const std::string& net,
                                 const std::vector<kv::KvPair>& pairs) {
  NetworkState st;
  for (const auto& p : pairs) {
    auto k = keys.classify(p.key);
    if (k.net != net) continue;
    if (k.kind == model::Keys::Kind::NetworkConfig) {
      auto def = model::parseDefinition(net, p.value);
      if (!def) {
        st.configError = "record " + p.key + ": " + def.error().msg;
        continue;
      }
      st.vni = def->vni;
      st.def = std::move(*def);
      st.configIndex = p.modifyIndex;
    } else if (k.kind == model::Keys::Kind::Member) {
      auto m = model::parseMember(p.key, k.host, p.value);
      if (!m) {
        log::warn("ignoring " + m.error().msg);
        continue;
      }
      st.members.push_back(std::move(*m));
    }
  }
  return st;
}

Result<NetworkState> Cluster::readNetwork(const std::string& net, ReadAhead* ahead) {
  const std::string prefix = keys_.network(net);
  if (ahead && !ahead->keys.empty() && ahead->store.matches(kv_.config()) &&
      ahead->keys.size() < 64) {  // a transaction holds at most 64 operations
    // One transaction: the listing (a get-tree) and the keys asked (a get-tree each: a get of an absent key
    // would fail the transaction; the answers are filtered to the exact keys).
    std::vector<kv::TxnOp> ops{{kv::TxnOp::GetTree, prefix, "", 0}};
    for (const auto& k : ahead->keys) ops.push_back({kv::TxnOp::GetTree, k, "", 0});
    auto r = TRY(kv_.txn(ops));
    if (r.committed) {
      std::vector<kv::KvPair> pairs;
      for (auto& p : r.results) {
        if (p.key.starts_with(prefix))
          pairs.push_back(std::move(p));
        else if (std::find(ahead->keys.begin(), ahead->keys.end(), p.key) != ahead->keys.end())
          ahead->found[p.key] = std::move(p);
      }
      ahead->read = true;
      return parseNetworkListing(keys_, net, pairs);
    }
  }
  auto pairs = TRY(kv_.list(prefix));
  return parseNetworkListing(keys_, net, pairs);
}

Result<void> requireReadable(const std::string& net, const NetworkState& state) {
  if (state.configError)
    return fail(Code::Decode, "network '" + net + "': " + *state.configError +
                                  "; repair the record or remove the network (overlayctl network rm)");
  return {};
}

Result<uint32_t> Cluster::ensureVni(const std::string& net, std::optional<uint32_t> wanted, const NetworkState& state) {
  TRY_VOID(requireReadable(net, state));
  if (state.vni) {
    if (wanted && *wanted != *state.vni)
      return fail(Code::InvalidConfig, "field 'vni' is " + std::to_string(*wanted) + " but the store records vni " +
                                           std::to_string(*state.vni) + " for network '" + net + "'");
    return *state.vni;
  }
  // Stable first candidate derived from the name, probing upwards when taken.
  uint32_t cand = wanted ? *wanted : uint32_t(fnv1a(net) % 16000000u) + 4096u;
  for (int attempt = 0; attempt < 64; ++attempt) {
    using Op = kv::TxnOp;
    std::vector<Op> ops = {
        {Op::CheckNotExists, keys_.vni(cand), "", 0},
        {Op::Set, keys_.vni(cand), toValue(VniReservation{net}), 0},
        {Op::Cas, keys_.networkConfig(net), configJson(cand), 0},
    };
    // A resent copy that lost to its own first copy is resolved by the re-read below (the network has a vni).
    auto r = TRY(kv_.txn(ops, kv::Resend::SelfIdentifying));
    if (r.committed) {
      log::info("network '" + net + "' defined with vni " + std::to_string(cand));
      return cand;
    }
    // Someone else defined the network meanwhile, or the VNI is taken.
    auto now = TRY(readNetwork(net));
    if (now.vni || now.configError) return ensureVni(net, wanted, now);
    auto owner = TRY(kv_.get(keys_.vni(cand)));
    if (heldBy(owner, net)) {
      // Our own reverse entry without a config (half-deleted network): write the config.
      (void)TRY(kv_.cas(keys_.networkConfig(net), configJson(cand), 0));
      continue;
    }
    if (wanted)
      return fail(Code::InvalidConfig,
                  "field 'vni' " + std::to_string(cand) + " is already used by " + describeHolder(owner));
    cand = cand >= 16777215u ? 4096u : cand + 1;
  }
  return fail(Code::TryAgainLater, "could not allocate a vni for network '" + net + "' after 64 attempts");
}

std::vector<kv::TxnOp> Cluster::attachmentOps(uint32_t vni, const Member& self, const model::Host& host,
                                              const AttachmentRecord& a) const {
  using Op = kv::TxnOp;
  Member m = self;
  m.vni = vni;
  model::Host h = host;
  h.time = int64_t(std::time(nullptr));
  AttachmentRecord rec = a;
  rec.time = h.time;
  // The watchers follow P/attachments/<net>/ as well as P/networks/<net>/: the attachment record wakes them,
  // and an unchanged member record (a host already in the network) is a write Consul skips.
  return {
      {Op::Set, keys_.member(a.network, self.host), model::toJson(m), 0},
      {Op::Set, keys_.attachment(a.network, self.host, a.containerId, a.ifName), model::toJson(rec), 0},
      {Op::Set, keys_.host(self.host), model::toJson(h), 0},
  };
}

Result<void> Cluster::recordAttachment(uint32_t vni, const Member& self, const model::Host& host,
                                       const AttachmentRecord& a) {
  auto r = TRY(kv_.txn(attachmentOps(vni, self, host, a)));
  if (!r.committed) {
    std::string why;
    for (const auto& e : r.errors) why += (why.empty() ? "" : "; ") + e;
    return fail(Code::TryAgainLater, "recording the attachment in consul failed: " + why);
  }
  return {};
}

std::vector<kv::TxnOp> Cluster::attachmentDeletionOps(const std::string& net, const std::string& host,
                                                      const std::string& cid, const std::string& ifName) const {
  // Deleting a record that is not there succeeds: a DEL for anything a runtime tried changes nothing.
  return {{kv::TxnOp::Delete, keys_.attachment(net, host, cid, ifName), "", 0}};
}

Result<void> Cluster::deleteAttachment(const std::string& net, const std::string& host, const std::string& cid,
                                       const std::string& ifName) {
  return kv_.deleteKey(keys_.attachment(net, host, cid, ifName));
}

Result<std::vector<AttachmentRecord>> Cluster::listAttachments(const std::string& net, const std::string& host) {
  return parseAttachments(TRY(kv_.list(keys_.attachmentsOn(net, host))));
}

Result<std::vector<AttachmentRecord>> Cluster::listAttachments(const std::string& net) {
  return parseAttachments(TRY(kv_.list(keys_.attachmentsOf(net))));
}

std::vector<AttachmentRecord> Cluster::parseAttachments(const std::vector<kv::KvPair>& pairs) const {
  std::vector<AttachmentRecord> out;
  for (const auto& p : pairs) {
    auto k = keys_.classify(p.key);
    if (k.kind != model::Keys::Kind::Attachment) continue;
    auto a = model::parseAttachment(p.key, k.net, k.host, k.containerId, k.ifName, p.value);
    if (!a) {
      // The key alone still names an attachment of this host: keep it (GC must see it), without details.
      log::warn("record " + p.key + " is malformed (" + a.error().msg + "); using its key only");
      out.push_back(AttachmentRecord{k.net, k.host, k.containerId, k.ifName, "", {}, {}, 0});
      continue;
    }
    out.push_back(std::move(*a));
  }
  return out;
}

Result<void> Cluster::ensureMember(const std::string& net, const Member& self) {
  return kv_.put(keys_.member(net, self.host), model::toJson(self));
}

Result<void> Cluster::withdrawMember(const std::string& net, const std::string& host) {
  return kv_.deleteKey(keys_.member(net, host));
}

}  // namespace ovl::model
