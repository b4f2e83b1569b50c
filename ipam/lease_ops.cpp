#include "ipam/lease_ops.hpp"

#include <algorithm>

#include "util/log.hpp"

namespace ovl::ipam {

Result<void> checkLeases(const std::vector<RangeSet>& sets, LeaseStore& store, std::string_view containerId,
                         std::string_view ifName, const std::optional<cni::NetResult>& prev) {
  std::string who = "container " + std::string(containerId) + " (" + std::string(ifName) + ")";
  auto held = TRY(store.findByOwner(containerId, ifName));
  if (held.empty()) return fail(Code::UnknownContainer, who + " holds no lease in " + store.describe());
  for (const auto& ip : held) {
    auto o = TRY(store.findLease(ip));
    if (!o || o->containerId != containerId || o->ifName != ifName)
      return fail(Code::Internal, "lease " + ip.str() + " of " + who + " is " +
                                      (o ? "now held by " + o->str() : std::string("gone")) + " in " +
                                      store.describe());
  }
  if (!prev) return {};
  for (const auto& ip : held) {
    bool listed =
        std::any_of(prev->ips.begin(), prev->ips.end(), [&](const cni::IpConfig& c) { return c.address.addr() == ip; });
    if (!listed)
      return fail(Code::InvalidConfig, "lease " + ip.str() + " of " + who + " is missing from prevResult.ips");
  }
  for (size_t k = 0; k < prev->ips.size(); ++k) {
    const IpAddr& a = prev->ips[k].address.addr();
    bool ours = std::any_of(sets.begin(), sets.end(), [&](const RangeSet& s) { return s.contains(a); });
    if (ours && std::find(held.begin(), held.end(), a) == held.end())
      return fail(Code::InvalidConfig,
                  "field 'prevResult.ips[" + std::to_string(k) + "].address' " + a.str() + " is not leased to " + who);
  }
  return {};
}

Result<size_t> collectGarbage(LeaseStore& store, std::string_view host, std::string_view network, std::string_view pool,
                              const std::vector<cni::Attachment>& valid) {
  TRY_VOID(store.lock());
  auto leases = TRY(store.listLeases());
  std::vector<Lease> stale;
  for (auto& l : leases) {
    // Only what this host holds for this network: a pool may be shared by several networks (`pool`), and
    // valid-attachments lists only this network's attachments. A lease that names no network (file store,
    // or written before leases named one) belongs to the network the pool is named after.
    if (l.owner.host != host) continue;
    if (l.owner.network.empty() ? pool != network : l.owner.network != network) continue;
    bool live = std::any_of(valid.begin(), valid.end(), [&](const cni::Attachment& a) {
      return a.containerId == l.owner.containerId && a.ifName == l.owner.ifName;
    });
    if (!live) stale.push_back(std::move(l));
  }
  if (stale.empty()) return size_t(0);
  TRY_VOID(store.releaseLeases(stale));
  for (const auto& l : stale) log::info("GC released " + l.ip.str() + " of " + l.owner.str());
  return stale.size();
}

Result<void> checkReady(const std::vector<RangeSet>& sets, LeaseStore& store) {
  auto notReady = [](Error e) {
    e.code = Code::NotReady;
    return fail(std::move(e));
  };
  if (auto ok = store.ping(); !ok) return notReady(std::move(ok.error()));
  auto ips = store.listLeasedIps();
  if (!ips) return notReady(std::move(ips.error()));
  for (size_t i = 0; i < sets.size(); ++i) {
    uint64_t used = 0;
    for (const auto& ip : *ips)
      if (sets[i].contains(ip) && !sets[i].isGateway(ip)) ++used;
    uint64_t cap = sets[i].capacity();
    if (used >= cap)
      return fail(Code::NotReady, "range set " + std::to_string(i) + " (" + sets[i].str() + ") of " + store.describe() +
                                      " is exhausted: " + std::to_string(used) + " of " + std::to_string(cap) +
                                      " addresses leased");
  }
  return {};
}

}  // namespace ovl::ipam
