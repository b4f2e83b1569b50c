// GC: attachments of this network that are not in cni.dev/valid-attachments go: their map elements (and
// rules of earlier versions) in one transaction, their records, veths and leases; a bridge left without
// ports loses its rules; then the IPAM's GC, which releases only this host's leases of this network.
#include <set>

#include "cni/delegate.hpp"
#include "gwbridge/bridge.hpp"
#include "gwbridge/config.hpp"
#include "gwbridge/nat.hpp"
#include "gwbridge/plugin.hpp"
#include "gwbridge/state.hpp"
#include "nl/link.hpp"
#include "util/log.hpp"

namespace ovl::gwbridge {
namespace {

using Key = std::pair<std::string, std::string>;  // containerID, ifname

// Releases the leases of the stale attachments one by one (a shared pool holds other networks' leases).
Result<void> releaseLeases(const cni::CmdArgs& args, const GwConf& gw, const std::set<Key>& stale) {
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
  return {};
}

}  // namespace

Result<void> cmdGc(const cni::CmdArgs& args, const cni::NetConf& conf) {
  auto gw = TRY(parseGwConf(conf, args.stdinData));
  const auto* valid = TRY(cni::requireValidAttachments(conf));
  std::set<std::string> keep;
  for (const auto& a : *valid) keep.insert(ruleTag(conf.name, a.containerId, a.ifName));

  // Elements by their comments (also those whose record is lost), then the records.
  const auto removedTags = TRY(removeAllExcept(conf.name, keep));
  std::set<Key> stale;
  for (const auto& t : removedTags)
    if (auto a = parseTag(t, conf.name)) stale.insert(*a);
  std::set<std::string> bridges{gw.bridge};
  CtFilter ct;
  for (const auto& r : listRecords(conf.name)) {
    if (keep.contains(ruleTag(conf.name, r.containerId, r.ifName))) continue;
    stale.insert({r.containerId, r.ifName});
    bridges.insert(r.bridge);
    const CtFilter f = ctFilterFor(r);
    ct.ports.insert(ct.ports.end(), f.ports.begin(), f.ports.end());
    ct.addrs.insert(ct.addrs.end(), f.addrs.begin(), f.addrs.end());
  }
  if (auto r = flushConntrack(ct); !r) log::warn("flushing conntrack entries: " + r.error().msg + ", ignoring");
  if (!stale.empty()) log::info("GC removes " + std::to_string(stale.size()) + " stale attachments");

  auto host = TRY(nl::Socket::open());
  for (const auto& [cid, ifn] : stale) {
    if (auto r = nl::deleteLink(host, hostVethName(cid, ifn)); !r) log::warn("GC: " + r.error().msg + ", ignoring");
    if (auto r = removeRecord(conf.name, cid, ifn); !r) log::warn("GC: " + r.error().msg + ", ignoring");
  }
  for (const auto& b : bridges)
    if (auto r = releaseBridgeIfUnused(b); !r) log::warn("GC: " + r.error().msg + ", ignoring");

  if (!gw.sharedPool) return cni::delegateGc(gw.ipamType, args, gw.ipamStdin);
  // A shared pool also holds other networks' leases. The stale attachments found above are released one by
  // one (leases written before owner indexes named their network); then the IPAM's GC releases this
  // network's other stale leases (overlay-ipam's index names each lease's network): those of attachments
  // whose record is gone (a reboot of a /run stateDir) or whose tag was hashed (long container IDs).
  TRY_VOID(releaseLeases(args, gw, stale));
  return cni::delegateGc(gw.ipamType, args, gw.ipamStdin);
}

}  // namespace ovl::gwbridge
