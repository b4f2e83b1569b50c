#include "ipam/memory_store.hpp"

#include <algorithm>

namespace ovl::ipam {

Result<void> MemoryStore::reachable() const {
  if (unreachable) return fail(Code::TryAgainLater, "memory store is unreachable");
  return {};
}

void MemoryStore::put(const IpAddr& ip, const Owner& owner) {
  leases_[ip] = Lease{ip, owner, 0};
  owners_[{owner.containerId, owner.ifName}].push_back(ip);
}

void MemoryStore::setCursor(size_t rangeSet, const IpAddr& ip) { cursors_[rangeSet] = ip; }

Result<std::vector<std::optional<IpAddr>>> MemoryStore::cursors(size_t n) {
  TRY_VOID(reachable());
  std::vector<std::optional<IpAddr>> out(n);
  for (size_t i = 0; i < n; ++i)
    if (auto it = cursors_.find(i); it != cursors_.end()) out[i] = it->second;
  return out;
}

Result<ReserveOutcome> MemoryStore::reserve(std::span<const Claim> claims, const Owner& owner) {
  TRY_VOID(reachable());
  ++reserveCalls;
  if (beforeReserve) beforeReserve(claims);
  ReserveOutcome out;
  if (owners_.contains({owner.containerId, owner.ifName})) {
    out.ownerHasLeases = true;
    return out;
  }
  for (size_t i = 0; i < claims.size(); ++i)
    if (leases_.contains(claims[i].ip)) out.taken.push_back(i);
  if (!out.taken.empty()) return out;
  for (const auto& c : claims) {
    put(c.ip, owner);
    cursors_[c.rangeSet] = c.ip;
  }
  out.reserved = true;
  return out;
}

Result<std::vector<IpAddr>> MemoryStore::findByOwner(std::string_view containerId, std::string_view ifName) {
  TRY_VOID(reachable());
  auto it = owners_.find({std::string(containerId), std::string(ifName)});
  if (it == owners_.end()) return std::vector<IpAddr>{};
  return it->second;
}

Result<std::optional<Owner>> MemoryStore::findLease(const IpAddr& ip) {
  TRY_VOID(reachable());
  auto it = leases_.find(ip);
  if (it == leases_.end()) return std::optional<Owner>{};
  return std::optional<Owner>(it->second.owner);
}

Result<void> MemoryStore::releaseByOwner(std::string_view containerId, std::string_view ifName) {
  TRY_VOID(reachable());
  auto it = owners_.find({std::string(containerId), std::string(ifName)});
  if (it == owners_.end()) return {};
  for (const auto& ip : it->second) leases_.erase(ip);
  owners_.erase(it);
  return {};
}

Result<std::vector<Lease>> MemoryStore::listLeases() {
  TRY_VOID(reachable());
  std::vector<Lease> out;
  for (const auto& [ip, l] : leases_) out.push_back(l);
  return out;
}

Result<std::vector<IpAddr>> MemoryStore::listLeasedIps() {
  ++listCalls;
  TRY_VOID(reachable());
  std::vector<IpAddr> out;
  for (const auto& [ip, l] : leases_) out.push_back(ip);
  return out;
}

Result<void> MemoryStore::releaseLeases(std::span<const Lease> leases) {
  TRY_VOID(reachable());
  for (const auto& l : leases) {
    auto it = leases_.find(l.ip);
    if (it == leases_.end() || !it->second.owner.sameAttachment(l.owner)) continue;
    leases_.erase(it);
    auto o = owners_.find({l.owner.containerId, l.owner.ifName});
    if (o == owners_.end()) continue;
    std::erase(o->second, l.ip);
    if (o->second.empty()) owners_.erase(o);
  }
  return {};
}

Result<void> MemoryStore::ping() { return reachable(); }

}  // namespace ovl::ipam
