#include "ipam/consul_store.hpp"

#include <map>
#include <utility>
#include <tuple>

#include "model/lease_companion.hpp"
#include "model/read_ahead.hpp"
#include "model/records.hpp"
#include "util/log.hpp"

namespace ovl::ipam {
namespace {

using kv::TxnOp;

std::string leaseJson(const Owner& o) {
  return model::toJson(model::Lease{o.containerId, o.ifName, o.host, o.network, o.time});
}

std::string ipsJson(std::span<const Claim> claims) {
  std::vector<IpAddr> ips;
  for (const auto& c : claims) ips.push_back(c.ip);
  return model::ownerIndexJson(ips);
}

Result<Owner> parseLease(const kv::KvPair& p) {
  auto l = TRY(model::parseLease(p.key, p.value));
  return Owner{std::move(l.containerId), std::move(l.ifName), std::move(l.host), std::move(l.time), std::move(l.network)};
}

Result<std::vector<IpAddr>> parseIps(const kv::KvPair& p) { return model::parseOwnerIndex(p.key, p.value); }

// A cursor only says where to start looking: an unreadable one is reported and read as none.
std::optional<IpAddr> cursorOf(const kv::KvPair& p) {
  auto c = model::parseCursor(p.key, p.value);
  if (!c) {
    log::warn("ignoring " + c.error().msg);
    return std::nullopt;
  }
  return c->ip;
}

// "op N: what" -> N
std::optional<size_t> opIndex(std::string_view err) {
  if (!err.starts_with("op ")) return std::nullopt;
  size_t n = 0, i = 3;
  if (i >= err.size() || !std::isdigit(static_cast<unsigned char>(err[i]))) return std::nullopt;
  while (i < err.size() && std::isdigit(static_cast<unsigned char>(err[i]))) n = n * 10 + size_t(err[i++] - '0');
  return n;
}

bool denied(std::string_view err) {
  return err.find("Permission denied") != std::string_view::npos || err.find("ACL not found") != std::string_view::npos;
}

}  // namespace

ConsulStore::ConsulStore(std::shared_ptr<kv::ConsulClient> client, const std::string& pool, const std::string& host)
    : client_(std::move(client)), keys_(client_->key("")), pool_(pool), host_(host) {}

std::string ConsulStore::addresses() const {
  std::string addrs;
  for (const auto& a : client_->config().addresses) addrs += (addrs.empty() ? "" : ",") + a;
  return addrs;
}

std::string ConsulStore::describe() const { return "pool " + pool_ + " in consul at " + addresses(); }

Result<std::vector<std::optional<IpAddr>>> ConsulStore::cursors(size_t n) {
  std::vector<std::optional<IpAddr>> out(n);
  auto check = std::exchange(markerCheck_, nullptr);  // once per call
  // Read ahead by the caller that runs this IPAM in its process, with its own listing: no round trip.
  if (model::ReadAhead* ahead = model::offered<model::ReadAhead>();
      ahead && !ahead->taken && ahead->store.matches(client_->config())) {
    bool all = !check || ahead->answer(keys_.cluster());
    for (size_t i = 0; all && i < n; ++i) all = ahead->answer(cursorKey(i)).has_value();
    if (all) {
      ahead->taken = true;
      for (size_t i = 0; i < n; ++i)
        if (auto kv = *ahead->answer(cursorKey(i))) out[i] = cursorOf(*kv);
      if (check) TRY_VOID(check(*ahead->answer(keys_.cluster())));
      return out;
    }
  }
  // One round trip when every key exists (a Get of an absent key fails the whole transaction).
  std::vector<TxnOp> ops;
  for (size_t i = 0; i < n; ++i) ops.push_back(TxnOp{TxnOp::Get, cursorKey(i), {}, 0});
  if (check) ops.push_back(TxnOp{TxnOp::Get, keys_.cluster(), {}, 0});
  if (ops.size() > 1) {
    auto r = TRY(client_->txn(ops));
    if (r.committed) {
      std::optional<kv::KvPair> marker;
      for (const auto& kv : r.results) {
        if (kv.key == keys_.cluster()) marker = kv;
        for (size_t i = 0; i < n; ++i)
          if (kv.key == cursorKey(i)) out[i] = cursorOf(kv);
      }
      if (check) TRY_VOID(check(marker));
      return out;
    }
  }
  for (size_t i = 0; i < n; ++i)
    if (auto kv = TRY(client_->get(cursorKey(i)))) out[i] = cursorOf(*kv);
  if (check) TRY_VOID(check(TRY(client_->get(keys_.cluster()))));
  return out;
}

std::vector<std::string> cursorReadKeys(const model::Keys& keys, std::string_view pool, size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back(keys.cursor(pool, i));
  out.push_back(keys.cluster());
  return out;
}

Result<ReserveOutcome> ConsulStore::reserve(std::span<const Claim> claims, const Owner& owner) {
  std::vector<TxnOp> ops;
  std::string value = leaseJson(owner);
  for (const auto& c : claims) ops.push_back(TxnOp{TxnOp::Cas, leaseKey(c.ip), value, 0});
  const size_t ownerOp = ops.size();
  ops.push_back(TxnOp{TxnOp::Cas, ownerKey(owner.containerId, owner.ifName), ipsJson(claims), 0});
  for (const auto& c : claims)
    ops.push_back(TxnOp{TxnOp::Set, cursorKey(c.rangeSet), model::toValue(model::Cursor{c.ip}), 0});
  // The caller's records, when it runs this IPAM in its process (model/lease_companion.hpp): plain sets, which
  // cannot conflict.
  model::LeaseCompanion* companion = model::offered<model::LeaseCompanion>();
  std::vector<IpNet> ips;
  for (const auto& c : claims) ips.push_back(IpNet(c.ip, c.prefix));
  const bool carry =
      companion && !companion->committed && companion->ops && companion->store.matches(client_->config());
  if (carry) {
    for (auto& op : companion->ops(ips)) ops.push_back(std::move(op));
    companion->sent = true;
  }
  // The owner key names this host, container and interface: a resent copy that lost to its own first copy
  // reports ownerHasLeases, and the allocator then returns what the owner index holds.
  auto r = TRY(client_->txn(ops, kv::Resend::SelfIdentifying));
  ReserveOutcome out;
  if (r.committed) {
    out.reserved = true;
    if (carry) {
      companion->committed = true;
      companion->ips = std::move(ips);
    }
    return out;
  }
  for (const auto& e : r.errors) {
    if (denied(e))
      return fail(Code::InvalidConfig, "consul at " + addresses() + " denied writing under " + keys_.pool(pool_) +
                                           ": the ACL token needs key_prefix write on it (" + e + ")");
    auto idx = opIndex(e);
    if (idx && *idx == ownerOp)
      out.ownerHasLeases = true;
    else if (idx && *idx < claims.size())
      out.taken.push_back(*idx);
    else
      return fail(Code::Internal, "consul refused to lease addresses in " + describe() + ": " + e);
  }
  if (out.ownerHasLeases) out.taken.clear();
  return out;
}

Result<std::optional<kv::KvPair>> ConsulStore::getOwner(std::string_view containerId, std::string_view ifName) {
  return client_->get(ownerKey(containerId, ifName));
}

Result<std::vector<IpAddr>> ConsulStore::findByOwner(std::string_view containerId, std::string_view ifName) {
  auto kv = TRY(getOwner(containerId, ifName));
  if (!kv) return std::vector<IpAddr>{};
  return parseIps(*kv);
}

Result<std::optional<Owner>> ConsulStore::findLease(const IpAddr& ip) {
  auto kv = TRY(client_->get(leaseKey(ip)));
  if (!kv) return std::optional<Owner>{};
  return std::optional<Owner>(TRY(parseLease(*kv)));
}

Result<bool> ConsulStore::deleteOwnerAndLeases(const std::string& ownerKey, uint64_t ownerIndex,
                                               const std::vector<std::pair<std::string, uint64_t>>& leases) {
  std::vector<TxnOp> ops;
  ops.push_back(TxnOp{TxnOp::DeleteCas, ownerKey, {}, ownerIndex});
  for (const auto& [key, index] : leases) ops.push_back(TxnOp{TxnOp::DeleteCas, key, {}, index});
  // The caller's deletions, when it runs this IPAM in its process and keeps its records in this Consul
  // (model/lease_companion.hpp).
  model::ReleaseCompanion* companion = model::offered<model::ReleaseCompanion>();
  const size_t companionAt = ops.size();
  const bool carry = companion && !companion->committed && !companion->refused && !companion->ops.empty() &&
                     ownerKey == this->ownerKey(companion->containerId, companion->ifName) &&
                     companion->store.matches(client_->config());
  if (carry) ops.insert(ops.end(), companion->ops.begin(), companion->ops.end());
  // A resent copy that lost to its own first copy finds the owner gone; the callers re-read and see that.
  auto r = TRY(client_->txn(ops, kv::Resend::SelfIdentifying));
  if (carry && r.committed) companion->committed = true;
  if (carry && !r.committed)
    for (const auto& e : r.errors)
      if (auto idx = opIndex(e); idx && *idx >= companionAt) {
        // Theirs failed, not ours: send the release alone; the caller writes its deletions itself.
        log::debug("the caller's deletions did not ride with the release: " + e);
        companion->refused = true;
        return deleteOwnerAndLeases(ownerKey, ownerIndex, leases);
      }
  for (const auto& e : r.errors)
    if (denied(e))
      return fail(Code::InvalidConfig, "consul at " + addresses() + " denied deleting under " + keys_.pool(pool_) +
                                           ": the ACL token needs key_prefix write on it (" + e + ")");
  return r.committed;
}

Result<void> ConsulStore::releaseByOwner(std::string_view containerId, std::string_view ifName) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    auto owner = TRY(getOwner(containerId, ifName));
    if (!owner) return {};
    auto ips = TRY(parseIps(*owner));
    // Common case: the leases were created with the index, in the same transaction.
    std::vector<std::pair<std::string, uint64_t>> leases;
    for (const auto& ip : ips) leases.emplace_back(leaseKey(ip), owner->modifyIndex);
    if (TRY(deleteOwnerAndLeases(owner->key, owner->modifyIndex, leases))) return {};
    // Otherwise delete those leases that are still the attachment's, at their own index.
    leases.clear();
    for (const auto& ip : ips) {
      auto kv = TRY(client_->get(leaseKey(ip)));
      if (!kv) continue;
      auto o = parseLease(*kv);
      if (o && o->containerId == containerId && o->ifName == ifName) leases.emplace_back(kv->key, kv->modifyIndex);
    }
    if (TRY(deleteOwnerAndLeases(owner->key, owner->modifyIndex, leases))) return {};
  }
  return fail(Code::TryAgainLater, "the leases of container " + std::string(containerId) + " (" + std::string(ifName) +
                                       ") kept changing in " + describe());
}

Result<std::vector<Lease>> ConsulStore::listLeases() {
  std::string prefix = keys_.leases(pool_);
  std::vector<Lease> out;
  for (const auto& kv : TRY(client_->list(prefix))) {
    auto ip = IpAddr::parse(std::string_view(kv.key).substr(prefix.size()));
    auto o = parseLease(kv);
    if (!ip || !o) {
      log::warn("ignoring consul key " + kv.key + ": not a lease record");
      continue;
    }
    out.push_back(Lease{*ip, std::move(*o), kv.modifyIndex});
  }
  return out;
}

Result<std::vector<IpAddr>> ConsulStore::listLeasedIps() {
  std::string prefix = keys_.leases(pool_);
  std::vector<IpAddr> out;
  for (const auto& k : TRY(client_->keys(prefix)))
    if (auto ip = IpAddr::parse(std::string_view(k).substr(prefix.size()))) out.push_back(*ip);
  return out;
}

Result<void> ConsulStore::releaseLeases(std::span<const Lease> leases) {
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<const Lease*>> byOwner;
  for (const auto& l : leases) byOwner[{l.owner.host, l.owner.containerId, l.owner.ifName}].push_back(&l);
  for (const auto& [key, group] : byOwner) {
    std::vector<std::pair<std::string, uint64_t>> keys;
    for (const auto* l : group) keys.emplace_back(leaseKey(l->ip), l->version);
    // The owner index was written with its leases: same ModifyIndex.
    const Owner& o = group.front()->owner;
    if (!TRY(deleteOwnerAndLeases(keys_.owner(pool_, o.host, o.containerId, o.ifName), group.front()->version, keys)))
      log::warn("leases of " + o.str() + " changed during GC, ignoring");
  }
  return {};
}

Result<void> ConsulStore::ping() { return client_->ping(); }

}  // namespace ovl::ipam
