#include "cni/delegate.hpp"
#include "ipc/resolver_link.hpp"
#include "model/cluster.hpp"
#include "model/lease_companion.hpp"
#include "model/memory.hpp"
#include "nl/link.hpp"
#include "overlay/plugin.hpp"
#include "overlay/teardown.hpp"
#include "util/log.hpp"
#include "vxlan/names.hpp"

namespace ovl::overlay {

// DEL runs every step, treats "already gone" as success and reports the first failure at the end.
// It needs neither CNI_NETNS nor prevResult: deleting the host end of the veth removes the pair.
Result<void> cmdDel(const cni::CmdArgs& args, const cni::NetConf& conf) {
  auto c = TRY(parseOverlayConf(conf, std::nullopt, /*readMac=*/false));  // a bad MAC must not stop cleanup
  std::optional<Error> first;
  auto note = [&](Result<void> r, std::string_view step) {
    if (r) return;
    log::error(std::string(step) + ": " + r.error().msg);
    if (!first) first = std::move(r.error());
  };

  auto host = TRY(nl::Socket::open());
  note(nl::deleteLink(host, vxlan::hostVethName(args.containerId, args.ifName)), "deleting the veth");

  auto cluster = model::Cluster::connect(c.store.consul);
  model::Cluster* cl = cluster ? &*cluster : nullptr;
  if (!cluster) note(fail(cluster.error()), "connecting to consul");
  // The attachment's deletion rides with the release when the IPAM runs in this process with its leases in
  // the same Consul (model/lease_companion.hpp): one write. Otherwise it is sent below.
  model::ReleaseCompanion release{args.containerId, args.ifName, {}, {}};
  if (cl) {
    release.store = model::StoreIdentity::of(cl->kv().config());
    release.ops = cl->attachmentDeletionOps(c.network, c.hostName, args.containerId, args.ifName);
  }
  {
    model::Offer<model::ReleaseCompanion> offered(release);
    note(cni::delegateDel(c.ipamType, args, args.stdinData), "releasing the address");
  }
  if (cl) note(replayWithdrawals(host, *cl, c), "sending deletions kept while the store was unreachable");
  if (cl && !release.committed)
    note(withdrawOrRemember(*cl, c, model::PendingWithdrawal{c.network, args.containerId, args.ifName}),
         "deleting the attachment record");
  if (auto mem = model::HostMemory::open(c.stateDir)) mem->forgetAttachment(c.network, args.containerId, args.ifName);

  if (c.resolver) {
    // Best effort: a resolver that is down drops the container when its attachment record goes.
    ipc::ResolverRequest req{ipc::ResolverRequest::Detach, c.network, args.containerId, args.ifName, ""};
    if (auto r = ipc::tellResolver(c.stateDir, req, -1, 500); !r) log::debug("resolver: " + r.error().msg);
  }

  auto vni = knownVni(c, cl);
  if (!vni) note(fail(vni.error()), "finding the network's vni");
  else if (*vni) note(teardownIfUnused(host, c, **vni, cl), "removing unused network devices");

  if (first) return fail(std::move(*first));
  return {};
}

}  // namespace ovl::overlay
