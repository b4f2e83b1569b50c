#include "model/identity.hpp"

#include <sys/stat.h>

#include <ctime>

#include "model/keys.hpp"
#include "util/file.hpp"

namespace ovl::model {
namespace {

std::string describe(const Host& h) {
  return "machine " + (h.machineId.empty() ? std::string("(unknown)") : h.machineId) + " with VTEP " + h.vtep.str();
}

std::string claimToken(const HostMemory& mem, const Host& self) {
  return mem.clusterId() + " " + self.host + " " + self.machineId + " " + self.vtep.str();
}

}  // namespace

Result<std::string> readMachineId(const std::string& path) {
  auto text = readSmallFile(path, 4096);
  if (!text || !*text)
    return fail(Code::Io, "cannot read the machine ID from " + path +
                              ": this host's identity claim needs it (in a container, mount the node's " + path +
                              " read-only)");
  std::string line(firstLine(**text));
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r' || line.back() == '\t')) line.pop_back();
  if (line.empty())
    return fail(Code::Io, "the machine ID in " + path +
                              " is empty: this host's identity claim needs it (run systemd-machine-id-setup, or "
                              "in a container mount the node's " + path + " read-only)");
  struct stat st{};
  if (::stat("/proc/thread-self/ns/net", &st) == 0) line += "@ns" + std::to_string(st.st_ino);
  return line;
}

bool sameMachine(const Host& a, const Host& b) { return a.machineId == b.machineId; }

bool hostClaimConfirmed(const HostMemory& mem, const Host& self) {
  return !mem.clusterId().empty() && mem.claim() == claimToken(mem, self);
}

Result<void> ensureHostClaim(kv::ConsulClient& kv, HostMemory& mem, const Host& self) {
  if (hostClaimConfirmed(mem, self)) return {};
  const std::string token = claimToken(mem, self);
  const Keys keys(kv.key(""));
  Host record = self;
  record.time = int64_t(std::time(nullptr));
  // The record names this machine: a resent copy that lost to its own first copy finds sameMachine below.
  if (!TRY(kv.cas(keys.host(self.host), toJson(record), 0, kv::Resend::SelfIdentifying))) {
    auto cur = TRY(kv.get(keys.host(self.host)));
    if (cur) {
      auto holder = parseHost(cur->key, self.host, cur->value);
      if (!holder)
        return fail(Code::InvalidConfig, "host name '" + self.host + "': " + holder.error().msg +
                                             "; remove it with 'overlayctl hosts evict " + self.host + "'");
      if (!sameMachine(*holder, self))
        return fail(Code::InvalidConfig,
                    "host name '" + self.host + "' is claimed by " + describe(*holder) + ", and this is " +
                        describe(self) + ": give each host its own \"hostName\" in the node config, or, if " +
                        self.host + " moved to this machine, remove the old claim with 'overlayctl hosts evict " +
                        self.host + "'");
      if (!(holder->vtep == self.vtep) && !TRY(kv.cas(cur->key, toJson(record), cur->modifyIndex)))
        return fail(Code::TryAgainLater, "host name '" + self.host + "' changed while its VTEP was updated; retry");
    } else if (!TRY(kv.cas(keys.host(self.host), toJson(record), 0))) {
      return fail(Code::TryAgainLater, "host name '" + self.host + "' is being claimed concurrently; retry");
    }
  }
  mem.setClaim(token);
  return {};
}

}  // namespace ovl::model
