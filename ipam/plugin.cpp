#include "plugin.hpp"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <random>

#include "allocator.hpp"
#include "config.hpp"
#include "consul_store.hpp"
#include "file_store.hpp"
#include "journal.hpp"
#include "lease_ops.hpp"
#include "model/memory.hpp"
#include "model/restore.hpp"
#include "util/log.hpp"
#include "util/testhook.hpp"

namespace ovl::ipam {
namespace {

struct Context {
  IpamConf conf;
  std::unique_ptr<LeaseStore> store;
  std::shared_ptr<kv::ConsulClient> client;  // with the Consul store
  bool consul = false;
};

Result<Context> openStore(Context c) {
  if (c.conf.store.kind == kv::StoreSpec::File) {
    c.store = TRY(FileStore::open(c.conf.dataDir, c.conf.pool, c.conf.host));
  } else {
    c.client = std::make_shared<kv::ConsulClient>(TRY(kv::ConsulClient::create(c.conf.store.consul)));
    c.store = std::make_unique<ConsulStore>(c.client, c.conf.pool, c.conf.host);
    c.consul = true;
  }
  return c;
}

Result<Context> openContext(const cni::NetConf& net, Need need) {
  auto node = TRY(kv::loadNodeConfig());
  Context c;
  c.conf = TRY(parseIpamConf(net, node, need));
  return openStore(std::move(c));
}

// Releases that an earlier DEL could not send to consul go first, so they never undo a newer lease.
Result<void> replayJournal(Context& c) {
  if (!c.consul) return {};
  Journal j(c.conf.stateDir);
  auto n = j.replay(c.conf.store.consul.prefix, c.conf.pool,
                    [&](const PendingRelease& p) { return c.store->releaseByOwner(p.containerId, p.ifName); });
  if (!n) return std::unexpected(std::move(n.error()));
  return {};
}

// The outcome of releasing an attachment's leases. When Consul was unreachable (code 11) the release goes to
// the journal, the next call sends it, and the attachment may go.
Result<void> releaseOrJournal(const Context& c, const cni::CmdArgs& args, Result<void> released) {
  if (released) return {};
  if (!c.consul || released.error().code != Code::TryAgainLater) return released;
  Journal j(c.conf.stateDir);
  PendingRelease p{c.conf.store.consul.prefix, c.conf.pool, args.containerId, args.ifName, nowRfc3339()};
  if (auto ok = j.add(p); !ok) {
    log::error("cannot journal the release: " + ok.error().msg);
    return released;
  }
  log::warn(released.error().msg + "; the release is kept in " + j.dir() + " and sent on a later call");
  return {};
}

// Before handing out an address from a shared store: if the store forgot what the hosts hold, this host
// puts back its own leases and waits for the others' (model/restore.hpp). One read in the common case.
Result<void> ensureStoreRemembers(Context& c, bool waitForOthers) {
  if (!c.consul) return {};
  auto mem = TRY(model::HostMemory::open(c.conf.stateDir));
  return model::ensureStoreRemembers(*c.client, mem, waitForOthers);
}

// What this host will put back if the store forgets it. Best effort: the lease holds without it.
void rememberLeases(const Context& c, const Owner& o, const std::vector<cni::IpConfig>& ips) {
  if (!c.consul) return;
  model::RememberedLeases r{c.conf.pool, model::Lease{o.containerId, o.ifName, o.host, o.network, o.time}, {}};
  for (const auto& ip : ips) r.ips.push_back(ip.address.addr());
  auto mem = model::HostMemory::open(c.conf.stateDir);
  auto ok = mem ? mem->remember(r) : Result<void>(fail(mem.error()));
  if (!ok) log::warn("this host will not restore the lease if the store loses it: " + ok.error().msg);
}

void forgetLeases(const Context& c, std::string_view cid, std::string_view ifName) {
  if (!c.consul) return;
  if (auto mem = model::HostMemory::open(c.conf.stateDir)) mem->forgetLeases(c.conf.pool, cid, ifName);
}

uint64_t randomSeed() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t(std::random_device{}()) << 32) ^ uint64_t(::getpid()) ^ uint64_t(ts.tv_nsec);
}

Result<cni::NetResult> cmdAdd(const cni::CmdArgs& args, const cni::NetConf& net) {
  // Check the request before touching the store: a refused request leaves no trace (not even a pool
  // directory).
  auto node = TRY(kv::loadNodeConfig());
  Context parsed;
  parsed.conf = TRY(parseIpamConf(net, node, Need::Ranges));
  auto requested = TRY(requestedIps(args.args.get("IP"), net));
  TRY(Allocator::assignRequested(parsed.conf.rangeSets, requested));
  auto c = TRY(openStore(std::move(parsed)));
  cni::NetResult r;
  r.cniVersion = net.cniVersion;
  r.routes = c.conf.routes;
  if (!c.conf.resolvConf.empty()) r.dns = TRY(readResolvConf(c.conf.resolvConf));
  TRY_VOID(replayJournal(c));
  if (c.consul) {
    auto* store = static_cast<ConsulStore*>(c.store.get());
    store->checkMarkerWithCursors([&c](const std::optional<kv::KvPair>& marker) -> Result<void> {
      auto mem = TRY(model::HostMemory::open(c.conf.stateDir));
      return model::ensureStoreRemembers(*c.client, mem, true, &marker);
    });
  }
  Owner owner{args.containerId, args.ifName, c.conf.host, nowRfc3339(), net.name};
  Allocator alloc(c.conf.rangeSets, *c.store, randomSeed());
  auto allocated = alloc.allocate(owner, requested);
  if (!allocated) {
    // A reservation that failed in Consul may have been stored all the same: a leader that dies after
    // replicating a transaction, before answering, leaves it to its successor to commit. No ADD runs for a
    // live attachment (the spec forbids a second ADD without DEL), so whatever this attachment holds now is
    // this call's: release it as DEL would.
    if (c.consul && alloc.reserveFailed() && allocated.error().code == Code::TryAgainLater)
      if (auto r = releaseOrJournal(c, args, c.store->releaseByOwner(args.containerId, args.ifName)); !r)
        log::warn("releasing what this ADD may have leased: " + r.error().msg + ", ignoring");
    return fail(std::move(allocated.error()));
  }
  auto a = std::move(*allocated);
  testhook::pausePoint("ipam.after-lease");
  std::string ips;
  for (const auto& ip : a.ips) ips += (ips.empty() ? "" : ",") + ip.address.str();
  log::info((a.existing ? "already held " : "leased ") + ips + " in " + c.store->describe() + " (attempts " +
            std::to_string(a.attempts) + ")");
  rememberLeases(c, owner, a.ips);
  r.ips = std::move(a.ips);
  return r;
}

Result<void> cmdDel(const cni::CmdArgs& args, const cni::NetConf& net) {
  auto c = TRY(openContext(net, Need::Store));
  auto replayed = replayJournal(c);
  TRY_VOID(releaseOrJournal(c, args, replayed ? c.store->releaseByOwner(args.containerId, args.ifName) : replayed));
  forgetLeases(c, args.containerId, args.ifName);
  return {};
}

Result<void> cmdCheck(const cni::CmdArgs& args, const cni::NetConf& net) {
  auto c = TRY(openContext(net, Need::Ranges));
  TRY_VOID(replayJournal(c));
  TRY_VOID(ensureStoreRemembers(c, false));
  return checkLeases(c.conf.rangeSets, *c.store, args.containerId, args.ifName, net.prevResult);
}

Result<void> cmdGc(const cni::CmdArgs&, const cni::NetConf& net) {
  const auto* valid = TRY(cni::requireValidAttachments(net));
  auto c = TRY(openContext(net, Need::Store));
  TRY_VOID(replayJournal(c));
  auto n = TRY(collectGarbage(*c.store, c.conf.host, net.name, c.conf.pool, *valid));
  if (n) log::info("GC released " + std::to_string(n) + " leases of host " + c.conf.host);
  if (auto mem = model::HostMemory::open(c.conf.stateDir); mem && c.consul)
    for (const auto& r : mem->leases()) {
      bool live = std::any_of(valid->begin(), valid->end(), [&](const cni::Attachment& a) {
        return a.containerId == r.lease.containerId && a.ifName == r.lease.ifName;
      });
      if (r.pool == c.conf.pool && r.lease.network == net.name && !live)
        mem->forgetLeases(r.pool, r.lease.containerId, r.lease.ifName);
    }
  return {};
}

Result<void> cmdStatus(const cni::CmdArgs&, const cni::NetConf& net) {
  auto opened = openContext(net, Need::Ranges);
  if (!opened) {
    // A configuration that cannot work stays an error of its own; a store that cannot be used is "not ready".
    Error e = std::move(opened.error());
    if (e.code != Code::InvalidConfig && e.code != Code::Decode) e.code = Code::NotReady;
    return fail(std::move(e));
  }
  Context& c = *opened;
  if (auto ok = replayJournal(c); !ok) log::debug("journal replay: " + ok.error().msg);
  return checkReady(c.conf.rangeSets, *c.store);
}

}  // namespace

cni::Plugin makePlugin() {
  cni::Plugin p;
  p.name = "overlay-ipam";
  p.add = cmdAdd;
  p.del = cmdDel;
  p.check = cmdCheck;
  p.gc = cmdGc;
  p.status = cmdStatus;
  return p;
}

}  // namespace ovl::ipam
