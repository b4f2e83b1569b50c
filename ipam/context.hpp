// What every overlay-ipam verb opens: the parsed ipam section and its lease store, and the store-level
// steps they share (the release journal, the host's memory of its leases, the store's identity check).
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "cni/config.hpp"
#include "cni/skel.hpp"
#include "ipam/config.hpp"
#include "ipam/lease_store.hpp"
#include "kv/consul.hpp"
#include "util/error.hpp"

namespace ovl::ipam {

struct Context {
  IpamConf conf;
  std::unique_ptr<LeaseStore> store;
  std::shared_ptr<kv::ConsulClient> client;  // with the Consul store
  bool consul = false;
};

// The store named by c.conf (file or Consul).
Result<Context> openStore(Context c);
// Parses `net`'s ipam section for `need` and opens its store.
Result<Context> openContext(const cni::NetConf& net, Need need);

// Releases that an earlier DEL could not send to consul go first, so they never undo a newer lease.
Result<void> replayJournal(Context& c);
// The outcome of releasing an attachment's leases. When Consul was unreachable (code 11) the release goes to
// the journal, the next call sends it, and the attachment may go.
Result<void> releaseOrJournal(const Context& c, const cni::CmdArgs& args, Result<void> released);

// model/restore.hpp for this store (Consul only): put back what the store forgot before going on.
Result<void> ensureStoreRemembers(Context& c, bool waitForOthers);
// What this host will put back if the store forgets it (Consul only). Best effort.
void rememberLeases(const Context& c, const Owner& o, const std::vector<cni::IpConfig>& ips);
void forgetLeases(const Context& c, std::string_view cid, std::string_view ifName);

}  // namespace ovl::ipam
