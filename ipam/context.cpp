#include "ipam/context.hpp"

#include "ipam/consul_store.hpp"
#include "ipam/file_store.hpp"
#include "ipam/journal.hpp"
#include "model/memory.hpp"
#include "model/restore.hpp"
#include "util/log.hpp"

namespace ovl::ipam {

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

Result<void> replayJournal(Context& c) {
  if (!c.consul) return {};
  Journal j(c.conf.stateDir);
  auto n = j.replay(c.conf.store.consul.prefix, c.conf.pool,
                    [&](const PendingRelease& p) { return c.store->releaseByOwner(p.containerId, p.ifName); });
  if (!n) return std::unexpected(std::move(n.error()));
  return {};
}

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

Result<void> ensureStoreRemembers(Context& c, bool waitForOthers) {
  if (!c.consul) return {};
  auto mem = TRY(model::HostMemory::open(c.conf.hostStateDir));
  return model::ensureStoreRemembers(*c.client, mem, waitForOthers);
}

void rememberLeases(const Context& c, const Owner& o, const std::vector<cni::IpConfig>& ips) {
  if (!c.consul) return;
  model::RememberedLeases r{c.conf.pool, model::Lease{o.containerId, o.ifName, o.host, o.network, o.time}, {}};
  for (const auto& ip : ips) r.ips.push_back(ip.address.addr());
  auto mem = model::HostMemory::open(c.conf.hostStateDir);
  auto ok = mem ? mem->remember(r) : Result<void>(fail(mem.error()));
  if (!ok) log::warn("this host will not restore the lease if the store loses it: " + ok.error().msg);
}

void forgetLeases(const Context& c, std::string_view cid, std::string_view ifName) {
  if (!c.consul) return;
  if (auto mem = model::HostMemory::open(c.conf.hostStateDir)) mem->forgetLeases(c.conf.pool, cid, ifName);
}

}  // namespace ovl::ipam
