#include "nl/host_ipv6.hpp"

#include <linux/sockios.h>
#include <netlink/socket.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cerrno>
#include <utility>

#include "metrics/tally.hpp"
#include "ns/sysctl.hpp"
#include "util/log.hpp"
#include "util/unique_fd.hpp"

namespace ovl::nl {
namespace {

// True when the calling thread runs in the namespace the netlink socket was made in.
Result<bool> threadInSocketNetns(Socket& s) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  UniqueFd nsFd(::ioctl(nl_socket_get_fd(s.get()), SIOCGSKNS));
  if (!nsFd) return fail(sysError(errno, "finding the netlink socket's network namespace"));
  struct stat sock{}, self{};
  if (::fstat(nsFd.get(), &sock) != 0) return fail(sysError(errno, "stat of the socket's netns"));
  if (::stat("/proc/thread-self/ns/net", &self) != 0) return fail(sysError(errno, "stat /proc/thread-self/ns/net"));
  return sock.st_dev == self.st_dev && sock.st_ino == self.st_ino;
}

// Sets net/ipv6/conf/<dev>/<key> to value unless it already is; true when written. nullopt: no such
// sysctl (a kernel without IPv6, or the device vanished).
Result<std::optional<bool>> setIfDifferent(const std::string& dev, const char* key, const char* value) {
  const std::string k = "net/ipv6/conf/" + dev + "/" + key;
  auto cur = ns::readSysctl(k);
  if (!cur) {
    if (cur.error().notFound()) return std::optional<bool>();
    return fail(std::move(cur.error()));
  }
  if (*cur == value) return std::optional<bool>(false);
  auto w = ns::writeSysctl(k, value);
  if (!w) {
    if (w.error().notFound()) return std::optional<bool>();
    return fail(std::move(w.error()));
  }
  return std::optional<bool>(true);
}

}  // namespace

Result<bool> ensureHostIpv6(Socket& s, const LinkInfo& link, HostIpv6 mode) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  if (!TRY(threadInSocketNetns(s)))
    return fail(Code::Internal, "refusing to set IPv6 sysctls of '" + link.name +
                                    "': the calling thread is not in the netlink socket's namespace");
  const std::string& dev = link.name;
  bool changed = false;
  // addr_gen_mode 1 = none: no link-local address when the device comes up (also on later flaps).
  for (auto [key, value] : {std::pair{"addr_gen_mode", "1"}, std::pair{"accept_ra", "0"}}) {
    auto r = TRY(setIfDifferent(dev, key, value));
    if (!r) return false;  // no IPv6 here
    changed |= *r;
  }
  if (mode == HostIpv6::Off) {
    auto r = TRY(setIfDifferent(dev, "disable_ipv6", "1"));
    changed |= r.value_or(false);
  } else if (changed) {
    // Drop what the old settings let the kernel configure (link-local, SLAAC addresses, RA routes).
    TRY_VOID(ns::writeSysctl("net/ipv6/conf/" + dev + "/disable_ipv6", "1"));
    TRY_VOID(ns::writeSysctl("net/ipv6/conf/" + dev + "/disable_ipv6", "0"));
  }
  if (changed) log::info("IPv6 autoconfiguration turned off on " + dev);
  return changed;
}

Result<int> ensurePortsHostIpv6(Socket& s, int bridgeIndex, HostIpv6 mode) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  auto links = TRY(dumpLinks(s));
  int n = 0;
  for (const auto& l : links)
    if (l.master == bridgeIndex && TRY(ensureHostIpv6(s, l, mode))) ++n;
  return n;
}

}  // namespace ovl::nl
