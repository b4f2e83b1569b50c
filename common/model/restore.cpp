#include "model/restore.hpp"

#include <time.h>

#include <cstdio>
#include <sys/random.h>
#include <thread>

#include "util/log.hpp"

namespace ovl::model {
namespace {

std::string newId() {
  unsigned char b[8] = {};
  (void)::getrandom(b, sizeof b, 0);
  char out[17];
  for (int i = 0; i < 8; ++i) std::snprintf(out + 2 * i, 3, "%02x", b[i]);
  return std::string(out, 16) + "-" + std::to_string(::time(nullptr));
}

// P/cluster as it is now: created when missing, replaced when unreadable (a store whose identity cannot be
// read is a store this host does not know: it puts its records back, as after a restart).
Result<StoreMarker> currentMarker(kv::ConsulClient& kv, const Keys& keys, std::optional<kv::KvPair> current) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (current) {
      auto m = parseStoreMarker(current->key, current->value);
      if (m) return *m;
      log::warn(m.error().msg + ": replacing it with a new store identity");
    }
    auto written = kv.cas(keys.cluster(), toJson(StoreMarker{newId(), int64_t(::time(nullptr))}),
                          current ? current->modifyIndex : 0);
    if (!written && written.error().code == Code::InvalidConfig)  // ACL: say what the token lacks
      return fail(Code::InvalidConfig, written.error().msg + ": the ACL token needs key_prefix write on " +
                                           keys.root() + " (to write " + keys.cluster() + ")");
    if (!written) return fail(std::move(written.error()));
    current = TRY(kv.get(keys.cluster()));  // ours, or another host's that won
  }
  return fail(Code::TryAgainLater, "the store's identity " + keys.cluster() + " keeps changing or vanishing; retry");
}

std::string holder(const Lease& l) { return l.containerId + " (" + l.ifName + ") on host " + l.host; }

Result<void> restoreAttachment(kv::ConsulClient& kv, const Keys& keys, const RememberedAttachment& r,
                               RestoreReport& rep) {
  const auto& a = r.attachment;
  NetworkDef def = r.definition.value_or(NetworkDef{a.network, r.member.vni, "global", {}, ""});
  if (def.vni) {
    if (TRY(kv.cas(keys.networkConfig(a.network), definitionJson(def), 0))) ++rep.restored;
    if (TRY(kv.cas(keys.vni(def.vni), toValue(VniReservation{a.network}), 0))) {
      ++rep.restored;
    } else if (auto owner = TRY(kv.get(keys.vni(def.vni)))) {
      auto holder = parseVniReservation(owner->key, owner->value);
      if (!holder)
        rep.conflicts.push_back("vni " + std::to_string(def.vni) + " of network '" + a.network + "': " +
                                holder.error().msg);
      else if (holder->network != a.network)
        rep.conflicts.push_back("vni " + std::to_string(def.vni) + " of network '" + a.network +
                                "' is now recorded for network '" + holder->network + "'");
    }
  }
  if (TRY(kv.cas(keys.member(a.network, r.member.host), toJson(r.member), 0))) ++rep.restored;
  if (TRY(kv.cas(keys.attachment(a.network, a.host, a.containerId, a.ifName), toJson(a), 0))) ++rep.restored;
  return {};
}

Result<void> restoreLeases(kv::ConsulClient& kv, const Keys& keys, const RememberedLeases& r, RestoreReport& rep) {
  const Lease& l = r.lease;
  const std::string value = toJson(l);
  for (const auto& ip : r.ips) {
    const std::string key = keys.lease(r.pool, ip.str());
    if (TRY(kv.cas(key, value, 0))) {
      ++rep.restored;
      continue;
    }
    auto now = TRY(kv.get(key));
    if (!now) continue;  // released meanwhile by its holder: nothing to put back
    auto other = parseLease(key, now->value);
    if (!other || other->host != l.host || other->containerId != l.containerId || other->ifName != l.ifName)
      rep.conflicts.push_back("address " + ip.str() + " of " + holder(l) + " in pool '" + r.pool + "' is now leased to " +
                              (other ? holder(*other) : std::string("an unreadable record")));
  }
  if (TRY(kv.cas(keys.owner(r.pool, l.host, l.containerId, l.ifName), ownerIndexJson(r.ips), 0))) ++rep.restored;
  return {};
}

}  // namespace

Result<RestoreReport> restoreHost(kv::ConsulClient& kv, const HostMemory& mem) {
  const Keys keys(kv.key(""));
  RestoreReport rep;
  for (const auto& a : mem.attachments()) TRY_VOID(restoreAttachment(kv, keys, a, rep));
  for (const auto& l : mem.leases()) TRY_VOID(restoreLeases(kv, keys, l, rep));
  return rep;
}

Result<void> ensureStoreRemembers(kv::ConsulClient& kv, HostMemory& mem, bool waitForOthers,
                                  const std::optional<kv::KvPair>* prefetched) {
  const Keys keys(kv.key(""));
  const std::string known = mem.clusterId();
  // A prefetched marker (the change feed's) may come from a follower, a stale read: it settles the common
  // case, the store this host knows; anything else is read again from the leader before acting on it.
  std::optional<kv::KvPair> current;
  if (prefetched && *prefetched) {
    auto m = parseStoreMarker((*prefetched)->key, (*prefetched)->value);
    if (m && m->id == known && !known.empty()) current = *prefetched;
  }
  if (!current) current = TRY(kv.get(keys.cluster()));
  const StoreMarker marker = TRY(currentMarker(kv, keys, std::move(current)));
  if (marker.id == known) return {};
  const bool remembers = !known.empty() || !mem.attachments().empty() || !mem.leases().empty();
  if (remembers) {
    log::warn("the store does not hold what this host knows (store id '" + marker.id + "', this host last saw '" +
              known + "'): putting back this host's records");
    auto rep = TRY(restoreHost(kv, mem));
    log::info("restored " + std::to_string(rep.restored) + " records");
    for (const auto& c : rep.conflicts) log::error("cannot restore: " + c);
    if (waitForOthers) {
      const int64_t until = marker.created + kRestoreGraceSeconds;
      for (int64_t now = ::time(nullptr); now < until && now >= marker.created; now = ::time(nullptr))
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  mem.setClusterId(marker.id);
  return {};
}

}  // namespace ovl::model
