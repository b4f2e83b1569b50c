// GC: rules of this network's attachments that are not in cni.dev/valid-attachments go, in one
// transaction, with their veths and leases; then the IPAM's GC, which releases only this host's leases of
// this network.
#include <set>

#include "cni/delegate.hpp"
#include "gwbridge/bridge.hpp"
#include "gwbridge/config.hpp"
#include "gwbridge/nat.hpp"
#include "gwbridge/plugin.hpp"
#include "nl/link.hpp"
#include "util/log.hpp"

namespace ovl::gwbridge {

Result<void> cmdGc(const cni::CmdArgs& args, const cni::NetConf& conf) {
  auto gw = TRY(parseGwConf(conf, args.stdinData));
  const auto* valid = TRY(cni::requireValidAttachments(conf));
  std::set<std::string> keep;
  for (const auto& a : *valid) keep.insert(ruleTag(conf.name, a.containerId, a.ifName));

  auto nft = TRY(nft::Nft::open());
  auto removed = TRY(removeRulesExcept(nft, conf.name, keep));
  if (auto r = flushConntrack(ctFilterFor(removed)); !r)
    log::warn("flushing conntrack entries: " + r.error().msg + ", ignoring");

  std::set<std::pair<std::string, std::string>> stale;
  for (const auto& r : removed)
    if (auto a = parseTag(r.comment, conf.name)) stale.insert(*a);
  if (!removed.empty())
    log::info("GC removed " + std::to_string(removed.size()) + " rules of " + std::to_string(stale.size()) +
              " stale attachments");
  auto host = TRY(nl::Socket::open());
  for (const auto& [cid, ifn] : stale)
    if (auto r = nl::deleteLink(host, hostVethName(cid, ifn)); !r) log::warn("GC: " + r.error().msg + ", ignoring");

  if (!gw.sharedPool) return cni::delegateGc(gw.ipamType, args, gw.ipamStdin);
  // A shared pool also holds other networks' leases. The attachments whose rules named them as this
  // network's are released one by one (leases written before owner indexes named their network); then the
  // IPAM's GC releases this network's other stale leases (overlay-ipam's index names each lease's network):
  // those of attachments whose rules are gone (a reboot) or were hashed (long container IDs).
  for (const auto& [cid, ifn] : stale) {
    cni::CmdArgs del = args;
    del.command = "DEL";
    del.containerId = cid;
    del.ifName = ifn;
    del.netns.clear();
    del.argsText.clear();
    if (auto r = cni::delegateDel(gw.ipamType, del, gw.ipamStdin); !r)
      return fail(std::move(r.error()).context("GC: releasing the address of " + cid + "/" + ifn));
  }
  return cni::delegateGc(gw.ipamType, args, gw.ipamStdin);
}

}  // namespace ovl::gwbridge
