#include <time.h>
#include <unistd.h>

#include <random>

#include "ipam/allocator.hpp"
#include "ipam/consul_store.hpp"
#include "ipam/context.hpp"
#include "ipam/plugin.hpp"
#include "model/memory.hpp"
#include "model/restore.hpp"
#include "util/log.hpp"
#include "util/testhook.hpp"

namespace ovl::ipam {
namespace {

uint64_t randomSeed() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t(std::random_device{}()) << 32) ^ uint64_t(::getpid()) ^ uint64_t(ts.tv_nsec);
}

}  // namespace

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
      auto mem = TRY(model::HostMemory::open(c.conf.hostStateDir));
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

}  // namespace ovl::ipam
