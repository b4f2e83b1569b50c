#include "nl/host_ipv6.hpp"

#include <linux/if_link.h>
#include <linux/ipv6.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/socket.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "metrics/tally.hpp"
#include "nl/error.hpp"
#include "nl/request.hpp"
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

// A device's IPv6 settings as the kernel reports them in RTM_NEWLINK (IFLA_AF_SPEC / AF_INET6): no
// /proc/sys walk to read them (ns::SysctlDir says why that costs). A value the message lacks is nullopt.
struct Ipv6Conf {
  std::optional<int32_t> disable, acceptRa, genMode;
};

// nullopt: the device has no IPv6 part (a kernel without IPv6, an MTU below 1280).
std::optional<Ipv6Conf> parseIpv6Conf(nl_msg* m) {
  nlattr* tb[IFLA_MAX + 1] = {};
  if (nlmsg_parse(nlmsg_hdr(m), sizeof(ifinfomsg), tb, IFLA_MAX, nullptr) < 0 || !tb[IFLA_AF_SPEC])
    return std::nullopt;
  nlattr* af = nullptr;
  int rem = 0;
  nla_for_each_nested(af, tb[IFLA_AF_SPEC], rem) {
    if (nla_type(af) != AF_INET6) continue;
    nlattr* t6[IFLA_INET6_MAX + 1] = {};
    if (nla_parse_nested(t6, IFLA_INET6_MAX, af, nullptr) < 0) return std::nullopt;
    Ipv6Conf c;
    if (nlattr* a = t6[IFLA_INET6_CONF]) {
      // The kernel's devconf array, indexed by DEVCONF_* (ipv6_store_devconf).
      const size_t n = static_cast<size_t>(nla_len(a)) / sizeof(int32_t);
      auto at = [&](size_t i) -> std::optional<int32_t> {
        if (i >= n) return std::nullopt;
        int32_t v = 0;
        std::memcpy(&v, static_cast<const char*>(nla_data(a)) + i * sizeof v, sizeof v);
        return v;
      };
      c.disable = at(DEVCONF_DISABLE_IPV6);
      c.acceptRa = at(DEVCONF_ACCEPT_RA);
      c.genMode = at(DEVCONF_ADDR_GEN_MODE);
    }
    if (nlattr* a = t6[IFLA_INET6_ADDR_GEN_MODE]) c.genMode = nla_get_u8(a);
    return c;
  }
  return std::nullopt;
}

// The link's IPv6 settings (one RTM_GETLINK); nullopt when it has none or is gone.
Result<std::optional<Ipv6Conf>> readIpv6Conf(Socket& s, int index) {
  const std::string what = "reading the IPv6 settings of link index " + std::to_string(index);
  nl_msg* raw = nullptr;
  if (int err = rtnl_link_build_get_request(index, nullptr, &raw); err < 0) return fail(nlError(err, what));
  MsgPtr msg(raw);
  std::optional<Ipv6Conf> out;
  auto r = requestRaw(s, std::move(msg), what, [&](nl_msg* m) {
    if (nlmsg_hdr(m)->nlmsg_type == RTM_NEWLINK) out = parseIpv6Conf(m);
  });
  if (!r) {
    if (r.error().notFound()) return std::optional<Ipv6Conf>();
    return fail(std::move(r.error()));
  }
  return out;
}

// Sets <dir>/<key> to value unless it already is (`known`, else read); true when written. nullopt: no
// such sysctl (the device vanished).
Result<std::optional<bool>> setIfDifferent(const ns::SysctlDir& dir, const char* key, const char* value,
                                           std::optional<int32_t> known) {
  if (known) {
    if (std::to_string(*known) == value) return std::optional<bool>(false);
  } else {
    auto cur = dir.read(key);
    if (!cur) {
      if (cur.error().notFound()) return std::optional<bool>();
      return fail(std::move(cur.error()));
    }
    if (*cur == value) return std::optional<bool>(false);
  }
  auto w = dir.write(key, value);
  if (!w) {
    if (w.error().notFound()) return std::optional<bool>();
    return fail(std::move(w.error()));
  }
  return std::optional<bool>(true);
}

// addr_gen_mode 1 = none: no link-local address when the device comes up (also on later flaps).
bool settled(const Ipv6Conf& c, HostIpv6 mode) {
  return c.genMode == 1 && c.acceptRa == 0 && (mode != HostIpv6::Off || c.disable == 1);
}

Result<bool> applyHostIpv6(Socket& s, const LinkInfo& link, HostIpv6 mode, const Ipv6Conf& c) {
  if (settled(c, mode)) return false;  // the common case: read over netlink, nothing opened in /proc/sys
  if (!TRY(threadInSocketNetns(s)))
    return fail(Code::Internal, "refusing to set IPv6 sysctls of '" + link.name +
                                    "': the calling thread is not in the netlink socket's namespace");
  const std::string& dev = link.name;
  // One walk to the device's directory, its files opened from there.
  auto dir = ns::SysctlDir::open("net/ipv6/conf/" + dev);
  if (!dir) {
    if (dir.error().notFound()) return false;  // no IPv6 here (or the device vanished)
    return fail(std::move(dir.error()));
  }
  bool changed = false;
  for (auto [key, value, known] :
       {std::tuple{"addr_gen_mode", "1", c.genMode}, std::tuple{"accept_ra", "0", c.acceptRa}}) {
    auto r = TRY(setIfDifferent(*dir, key, value, known));
    if (!r) return false;  // no IPv6 here
    changed |= *r;
  }
  if (mode == HostIpv6::Off) {
    auto r = TRY(setIfDifferent(*dir, "disable_ipv6", "1", c.disable));
    changed |= r.value_or(false);
  } else if (changed) {
    // Drop what the old settings let the kernel configure (link-local, SLAAC addresses, RA routes).
    TRY_VOID(dir->write("disable_ipv6", "1"));
    TRY_VOID(dir->write("disable_ipv6", "0"));
  }
  if (changed) log::info("IPv6 autoconfiguration turned off on " + dev);
  return changed;
}

}  // namespace

Result<bool> ensureHostIpv6(Socket& s, const LinkInfo& link, HostIpv6 mode) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  auto conf = TRY(readIpv6Conf(s, link.index));
  if (!conf) return false;  // no IPv6 here
  return applyHostIpv6(s, link, mode, *conf);
}

Result<bool> hostIpv6Settled(Socket& s, int index, HostIpv6 mode) {
  auto conf = TRY(readIpv6Conf(s, index));
  return !conf || settled(*conf, mode);
}

Result<int> ensurePortsHostIpv6(Socket& s, int bridgeIndex, HostIpv6 mode) {
  metrics::PhaseTimer netlinkTimer(metrics::Phase::Netlink);
  // One dump of the bridge's ports: each port's settings come with it, so settled ports cost no /proc/sys
  // access.
  std::vector<std::pair<LinkInfo, Ipv6Conf>> ports;
  TRY_VOID(dumpPortMessages(s, bridgeIndex, [&] { ports.clear(); }, [&](nl_msg* m, LinkInfo li) {
    if (auto c = parseIpv6Conf(m)) ports.emplace_back(std::move(li), *c);
  }));
  int n = 0;
  for (const auto& [l, c] : ports)
    if (TRY(applyHostIpv6(s, l, mode, c))) ++n;
  return n;
}

}  // namespace ovl::nl
