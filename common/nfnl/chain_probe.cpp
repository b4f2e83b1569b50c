#include "nfnl/chain_probe.hpp"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "metrics/tally.hpp"
#include "util/unique_fd.hpp"

namespace ovl::nfnl {
namespace {

std::optional<int> familyNumber(std::string_view f) {
  if (f == "inet") return NFPROTO_INET;
  if (f == "ip") return NFPROTO_IPV4;
  if (f == "ip6") return NFPROTO_IPV6;
  if (f == "bridge") return NFPROTO_BRIDGE;
  if (f == "arp") return NFPROTO_ARP;
  if (f == "netdev") return NFPROTO_NETDEV;
  return std::nullopt;
}

void putString(std::vector<char>& buf, uint16_t type, std::string_view s) {
  const size_t at = buf.size();
  const auto len = static_cast<uint16_t>(NLA_HDRLEN + s.size() + 1);
  buf.resize(at + NLA_ALIGN(len), 0);
  nlattr a{.nla_len = len, .nla_type = type};
  std::memcpy(buf.data() + at, &a, sizeof a);
  std::memcpy(buf.data() + at + NLA_HDRLEN, s.data(), s.size());
}

// NFTA_CHAIN_USERDATA holds TLVs (type, length, value); the comment is type 0 (NFTNL_UDATA_CHAIN_COMMENT),
// NUL-terminated.
std::string commentOf(const unsigned char* p, size_t n) {
  while (n >= 2) {
    const size_t len = p[1];
    if (2 + len > n) break;
    if (p[0] == 0 && len > 0) return std::string(reinterpret_cast<const char*>(p + 2), strnlen(reinterpret_cast<const char*>(p + 2), len));
    p += 2 + len;
    n -= 2 + len;
  }
  return "";
}

std::string commentOfChain(const nlmsghdr* m) {
  const size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg));
  if (m->nlmsg_len < off) return "";
  const char* p = reinterpret_cast<const char*>(m) + off;
  size_t rest = m->nlmsg_len - off;
  while (rest >= NLA_HDRLEN) {
    nlattr a{};
    std::memcpy(&a, p, sizeof a);
    if (a.nla_len < NLA_HDRLEN || a.nla_len > rest) break;
    if ((a.nla_type & NLA_TYPE_MASK) == NFTA_CHAIN_USERDATA)
      return commentOf(reinterpret_cast<const unsigned char*>(p + NLA_HDRLEN), a.nla_len - NLA_HDRLEN);
    const size_t step = NLA_ALIGN(a.nla_len);
    if (step > rest) break;
    p += step;
    rest -= step;
  }
  return "";
}

}  // namespace

Result<std::optional<std::string>> findChainComment(std::string_view family, std::string_view table,
                                                    std::string_view chain) {
  metrics::PhaseTimer timer(metrics::Phase::Nft);
  const auto fam = familyNumber(family);
  if (!fam) return fail(Code::Internal, "nftables family '" + std::string(family) + "' is unknown");
  const std::string what = "asking for chain " + std::string(family) + " " + std::string(table) + " " +
                           std::string(chain);
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
  if (!fd) return fail(sysError(errno, what + ": netlink socket"));

  std::vector<char> req(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg)), 0);
  putString(req, NFTA_CHAIN_TABLE, table);
  putString(req, NFTA_CHAIN_NAME, chain);
  nlmsghdr h{.nlmsg_len = static_cast<uint32_t>(req.size()),
             .nlmsg_type = static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETCHAIN),
             .nlmsg_flags = NLM_F_REQUEST,
             .nlmsg_seq = 1,
             .nlmsg_pid = 0};
  nfgenmsg g{.nfgen_family = static_cast<uint8_t>(*fam), .version = NFNETLINK_V0, .res_id = 0};
  std::memcpy(req.data(), &h, sizeof h);
  std::memcpy(req.data() + NLMSG_HDRLEN, &g, sizeof g);
  if (::send(fd.get(), req.data(), req.size(), 0) < 0) return fail(sysError(errno, what));

  // One answer: the chain (NFT_MSG_NEWCHAIN) or an error (ENOENT: no such chain or table).
  alignas(nlmsghdr) char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(sysError(errno, what));
    int len = static_cast<int>(n);
    for (auto* m = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(m, len); m = NLMSG_NEXT(m, len)) {
      if (m->nlmsg_type == NLMSG_ERROR) {
        nlmsgerr e{};
        std::memcpy(&e, NLMSG_DATA(m), sizeof e);
        if (e.error == -ENOENT) return std::nullopt;
        if (e.error == 0) continue;
        return fail(sysError(-e.error, what));
      }
      if ((m->nlmsg_type & 0xff) == NFT_MSG_NEWCHAIN) return commentOfChain(m);
    }
  }
}

}  // namespace ovl::nfnl
