#include "vxlan/allow_list.hpp"

#include "nl/fdb.hpp"
#include "util/log.hpp"

namespace ovl::vxlan {
namespace {

constexpr int kAttempts = 3;

}  // namespace

Result<AllowList> AllowList::open() { return AllowList(); }

Result<AllowListing> AllowList::read() {
  auto listing = TRY(nfnl::listTable(nfnl::Family::Inet, kAllowTable));
  if (!listing) return AllowListing{};
  return readAllowListing(*listing);
}

Result<void> AllowList::apply(uint32_t vni, const std::set<IpAddr>& want, bool exact) {
  for (int attempt = 1;; ++attempt) {
    auto plan = planAllow(TRY(read()), vni, want, exact);
    if (plan.empty()) return {};
    // A deletion of a pair that went meanwhile fails the whole transaction: read again and retry.
    nfnl::Batch b;
    addAllowPlan(b, plan);
    auto r = b.commit("updating the VXLAN allow-list of vni " + std::to_string(vni));
    if (r) {
      for (const auto& e : plan.remove) log::info("vni " + std::to_string(vni) + ": VXLAN from " + e.vtep.str() + " no longer allowed");
      return {};
    }
    if (plan.remove.empty() || attempt >= kAttempts) return fail(std::move(r.error()));
  }
}

Result<void> AllowList::sync(uint32_t vni, const IpAddr& self, const std::vector<model::Member>& members,
                             FloodSync sync) {
  std::set<IpAddr> want;
  for (const auto& m : members)
    if (!(m.vtep == self)) want.insert(m.vtep);
  return apply(vni, want, sync == FloodSync::Exact);
}

Result<void> AllowList::admit(uint32_t vni, const std::set<IpAddr>& vteps) {
  AllowPlan plan;
  for (const auto& ip : vteps) plan.add.push_back({ip, vni});
  if (plan.empty()) return {};
  nfnl::Batch b;
  addAllowPlan(b, plan);
  return b.commit("updating the VXLAN allow-list of vni " + std::to_string(vni));
}

Result<void> AllowList::join(nl::Socket& s, const NetDevices& dev, uint32_t vni, const std::set<IpAddr>& vteps) {
  TRY_VOID(admit(vni, vteps));
  const MacAddr zero(std::array<uint8_t, 6>{});
  for (const auto& vtep : vteps) TRY_VOID(nl::appendFdb(s, dev.vxlan.index, zero, vtep));
  return {};
}

Result<void> AllowList::forget(uint32_t vni) { return apply(vni, {}, true); }

Result<void> AllowList::enforce(uint16_t port) {
  nfnl::Batch b;
  addEnforce(b, port);
  return b.commit("enforcing the VXLAN allow-list");
}

Result<void> AllowList::relax() {
  if (!TRY(read()).enforced) return {};
  nfnl::Batch b;
  addRelax(b);
  return b.commit("removing the VXLAN allow-list's dropping chain");
}

}  // namespace ovl::vxlan
