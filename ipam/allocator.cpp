#include "ipam/allocator.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "util/log.hpp"

namespace ovl::ipam {
namespace {

bool sortedHas(const std::vector<IpAddr>& v, const IpAddr& a) { return std::binary_search(v.begin(), v.end(), a); }

std::string joinIps(const std::vector<IpAddr>& ips) {
  std::string s;
  for (const auto& ip : ips) s += (s.empty() ? "" : ", ") + ip.str();
  return s;
}

}  // namespace

Allocator::Allocator(const std::vector<RangeSet>& sets, LeaseStore& store, uint64_t seed)
    : sets_(sets), store_(store), rng_(seed), tried_(sets.size()) {}

cni::IpConfig Allocator::ipConfig(size_t set, const IpAddr& ip) const {
  const Range* r = sets_[set].rangeFor(ip);
  cni::IpConfig c;
  c.address = r ? r->withPrefix(ip) : IpNet(ip, ip.bits());
  if (r) c.gateway = r->gateway;
  return c;
}

Claim Allocator::claimOf(size_t set, const IpAddr& ip) const {
  return Claim{ip, set, ipConfig(set, ip).address.prefix()};
}

std::unexpected<Error> Allocator::exhausted(size_t set) const {
  return fail(Code::PoolExhausted, "no free address left in range set " + std::to_string(set) + " (" +
                                       sets_[set].str() + ") of " + store_.describe());
}

std::unexpected<Error> Allocator::inUse(const IpAddr& ip) {
  std::string holder;
  if (auto o = store_.findLease(ip); o && *o) holder = " by " + (*o)->str();
  return fail(Code::AddressInUse, "requested address " + ip.str() + " is in use" + holder);
}

Result<Allocator::Statics> Allocator::assignRequested(const std::vector<RangeSet>& sets,
                                                     std::span<const IpAddr> requested) {
  Statics out(sets.size());
  for (const auto& ip : requested) {
    std::optional<size_t> set;
    for (size_t i = 0; i < sets.size(); ++i) {
      if (sets[i].isGateway(ip))
        return fail(Code::InvalidConfig, "requested address " + ip.str() + " is the gateway of range set " +
                                             std::to_string(i) + " (" + sets[i].str() + ")");
      if (!set && sets[i].contains(ip)) set = i;
    }
    if (!set) {
      std::string all;
      for (const auto& s : sets) all += (all.empty() ? "" : "; ") + s.str();
      return fail(Code::InvalidConfig,
                  "requested address " + ip.str() + " is outside every configured range (" + all + ")");
    }
    if (out[*set])
      return fail(Code::InvalidConfig, "requested addresses " + out[*set]->str() + " and " + ip.str() +
                                           " both fall in range set " + std::to_string(*set) + " (" +
                                           sets[*set].str() + "): one address per range set");
    out[*set] = ip;
  }
  return out;
}

Result<Allocation> Allocator::existing(const Owner& owner, const Statics& statics) {
  auto held = TRY(store_.findByOwner(owner.containerId, owner.ifName));
  if (held.empty())
    return fail(Code::TryAgainLater, "the leases of container " + owner.containerId + " (" + owner.ifName +
                                         ") changed during this ADD in " + store_.describe());
  Allocation a;
  a.existing = true;
  for (size_t i = 0; i < sets_.size(); ++i) {
    auto it = std::find_if(held.begin(), held.end(), [&](const IpAddr& ip) { return sets_[i].contains(ip); });
    std::string who = "container " + owner.containerId + " (" + owner.ifName + ") already holds " + joinIps(held);
    if (it == held.end())
      return fail(Code::InvalidConfig, who + " but nothing in range set " + std::to_string(i) + " (" + sets_[i].str() +
                                           "): the ranges changed; DEL it first");
    if (statics[i] && *statics[i] != *it)
      return fail(Code::InvalidConfig, who + ", not the requested " + statics[i]->str() + "; DEL it first");
    a.ips.push_back(ipConfig(i, *it));
  }
  return a;
}

std::optional<IpAddr> Allocator::spread(size_t set, const std::optional<IpAddr>& cursor, int attempt) {
  const size_t window = size_t(8) << std::min(attempt - 1, 6);
  RangeIter it(sets_[set], cursor);
  std::vector<IpAddr> free;
  while (free.size() < window) {
    auto c = it.next();
    if (!c) break;
    if (!sortedHas(leased_, *c) && std::find(tried_[set].begin(), tried_[set].end(), *c) == tried_[set].end())
      free.push_back(*c);
  }
  if (free.empty()) return std::nullopt;
  return free[rng_() % free.size()];
}

Result<Allocation> Allocator::allocate(const Owner& owner, std::span<const IpAddr> requested) {
  Statics statics = TRY(assignRequested(sets_, requested));
  const auto deadline = std::chrono::steady_clock::now() + kSharedBudget;
  TRY_VOID(store_.lock());
  auto cursors = TRY(store_.cursors(sets_.size()));
  std::vector<RangeIter> iters;
  std::vector<Claim> claims;
  for (size_t i = 0; i < sets_.size(); ++i) {
    iters.emplace_back(sets_[i], cursors[i]);
    auto first = statics[i] ? statics[i] : iters[i].next();
    if (!first) return exhausted(i);
    claims.push_back(claimOf(i, *first));
  }

  for (int attempt = 1;; ++attempt) {
    auto reserved = store_.reserve(claims, owner);
    if (!reserved) {
      reserveFailed_ = true;
      return fail(std::move(reserved.error()));
    }
    auto out = std::move(*reserved);
    if (out.reserved) {
      Allocation a;
      a.attempts = attempt;
      for (const auto& c : claims) a.ips.push_back(ipConfig(c.rangeSet, c.ip));
      return a;
    }
    if (out.ownerHasLeases) {
      auto a = TRY(existing(owner, statics));
      a.attempts = attempt;
      return a;
    }
    if (out.taken.empty())
      return fail(Code::Internal, store_.describe() + " refused a reservation without naming a taken address");
    for (size_t t : out.taken)
      if (statics[t]) return inUse(claims[t].ip);

    if (store_.shared()) {
      if (attempt >= kMaxSharedAttempts || std::chrono::steady_clock::now() > deadline)
        return fail(Code::TryAgainLater, "could not lease an address in " + store_.describe() + " after " +
                                             std::to_string(attempt) + " attempts: other hosts kept taking them");
      // The first two lost races cost one request each: most likely other hosts took the cursor's next
      // addresses at the same moment, so a random one of the next 8 (then 16) after the cursor is tried
      // without listing the leases. From the third on, the leases are listed (one more request) and skipped.
      if (attempt >= kGuessedRetries + 1) {
        leased_ = TRY(store_.listLeasedIps());
        std::sort(leased_.begin(), leased_.end());
      }
      // Competing allocators retry at about the same time: desynchronize them a little.
      std::this_thread::sleep_for(std::chrono::microseconds(rng_() % (500u * unsigned(std::min(attempt, 8)))));
    }
    for (size_t t : out.taken) {
      tried_[t].push_back(claims[t].ip);
      auto next = store_.shared() ? spread(t, cursors[t], attempt) : iters[t].next();
      if (!next) return exhausted(t);
      log::debug("address " + claims[t].ip.str() + " is taken, trying " + next->str());
      claims[t] = claimOf(t, *next);
    }
  }
}

}  // namespace ovl::ipam
