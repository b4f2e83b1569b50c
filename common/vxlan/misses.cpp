#include "vxlan/misses.hpp"

#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

#include "util/log.hpp"

namespace ovl::vxlan {
namespace {

constexpr uint16_t kPacketMsg = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
constexpr uint16_t kConfigMsg = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

// An IPv4-over-Ethernet ARP request at `p`: what it asks for and who asks.
struct ArpRequest {
  IpAddr target, sender;
  MacAddr senderMac;
};
std::optional<ArpRequest> arpRequest(const uint8_t* p, size_t len) {
  if (len < 28) return std::nullopt;
  const bool ether = p[0] == 0 && p[1] == 1, ipv4 = p[2] == 0x08 && p[3] == 0x00;
  if (!ether || !ipv4 || p[4] != 6 || p[5] != 4 || p[6] != 0 || p[7] != 1) return std::nullopt;
  std::array<uint8_t, 6> sha;
  std::memcpy(sha.data(), p + 8, 6);
  return ArpRequest{IpAddr::fromBytes(AF_INET, p + 24), IpAddr::fromBytes(AF_INET, p + 14), MacAddr(sha)};
}

// One nfnetlink_log packet message's attributes (after its nfgenmsg).
std::optional<Miss> parsePacket(const uint8_t* p, size_t len) {
  Miss m;
  std::optional<ArpRequest> arp;
  for (size_t off = 0; len - off >= NLA_HDRLEN;) {
    nlattr a;
    std::memcpy(&a, p + off, sizeof a);
    if (a.nla_len < NLA_HDRLEN || a.nla_len > len - off) break;
    const uint8_t* v = p + off + NLA_HDRLEN;
    const size_t n = a.nla_len - NLA_HDRLEN;
    switch (a.nla_type & NLA_TYPE_MASK) {
      case NFULA_IFINDEX_OUTDEV:  // the bridge, in the bridge family
        if (n == 4) m.bridge = int(be32(v));
        break;
      case NFULA_IFINDEX_PHYSOUTDEV:  // the port
        if (n == 4) m.port = int(be32(v));
        break;
      case NFULA_PAYLOAD:
        arp = arpRequest(v, n);
        if (!arp && n >= 14 && v[12] == 0x08 && v[13] == 0x06) arp = arpRequest(v + 14, n - 14);
        break;
      default:
        break;
    }
    off += std::min<size_t>(NLA_ALIGN(a.nla_len), len - off);
  }
  if (!arp) return std::nullopt;
  m.ip = arp->target;
  m.asker = arp->senderMac;
  m.askerIp = arp->sender;
  return m;
}

// Sends one NFULNL_MSG_CONFIG for `group` carrying one attribute, and reads the kernel's answer.
Result<void> configure(int fd, uint16_t group, uint16_t attr, const void* value, size_t len, const std::string& what) {
  alignas(nlmsghdr) uint8_t buf[64] = {};
  auto* h = reinterpret_cast<nlmsghdr*>(buf);
  h->nlmsg_type = kConfigMsg;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  h->nlmsg_seq = 1;
  auto* g = reinterpret_cast<nfgenmsg*>(buf + NLMSG_HDRLEN);
  g->nfgen_family = AF_UNSPEC;
  g->version = NFNETLINK_V0;
  g->res_id = htons(group);
  const size_t at = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg));
  nlattr a{uint16_t(NLA_HDRLEN + len), attr};
  std::memcpy(buf + at, &a, sizeof a);
  std::memcpy(buf + at + NLA_HDRLEN, value, len);
  h->nlmsg_len = uint32_t(at + NLA_ALIGN(NLA_HDRLEN + len));
  if (::send(fd, buf, h->nlmsg_len, 0) < 0) return fail(sysError(errno, what));
  alignas(nlmsghdr) uint8_t answer[256];
  for (int tries = 0; tries < 50; ++tries) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) return fail(Code::Internal, what + ": the kernel did not answer");
    const ssize_t n = ::recv(fd, answer, sizeof answer, 0);
    if (n < 0) return fail(sysError(errno, what));
    const auto* r = reinterpret_cast<const nlmsghdr*>(answer);
    if (size_t(n) < NLMSG_HDRLEN + sizeof(nlmsgerr) || r->nlmsg_type != NLMSG_ERROR) continue;  // a report
    nlmsgerr e;
    std::memcpy(&e, answer + NLMSG_HDRLEN, sizeof e);
    // Kernel 6.18 answers EPERM, not EBUSY, when another socket holds the group.
    if (e.error == -EBUSY || e.error == -EPERM)
      return fail(Code::TryAgainLater, what + ": another process reads nfnetlink_log group " + std::to_string(group));
    if (e.error != 0) return fail(sysError(-e.error, what));
    return {};
  }
  return fail(Code::Internal, what + ": no answer among the kernel's messages");
}

}  // namespace

std::vector<Miss> parseMissReports(const void* data, size_t len) {
  std::vector<Miss> out;
  const auto* base = static_cast<const uint8_t*>(data);
  for (size_t off = 0; len - off >= NLMSG_HDRLEN;) {
    nlmsghdr h;
    std::memcpy(&h, base + off, sizeof h);
    if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len - off) break;
    const uint8_t* msg = base + off + NLMSG_HDRLEN;
    const size_t msgLen = h.nlmsg_len - NLMSG_HDRLEN;
    off += std::min<size_t>(NLMSG_ALIGN(h.nlmsg_len), len - off);
    const size_t head = NLMSG_ALIGN(sizeof(nfgenmsg));
    if (h.nlmsg_type != kPacketMsg || msgLen < head) continue;
    if (auto m = parsePacket(msg + head, msgLen - head)) out.push_back(std::move(*m));
  }
  return out;
}

Result<std::unique_ptr<MissListener>> MissListener::start(uint16_t group, std::function<void()> wake) {
  std::unique_ptr<MissListener> l(new MissListener());
  l->sock_ = UniqueFd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_NETFILTER));
  if (!l->sock_) return fail(sysError(errno, "opening a netfilter netlink socket for ARP reports"));
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (::bind(l->sock_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    return fail(sysError(errno, "binding the netlink socket for ARP reports"));
  const std::string what = "binding nfnetlink_log group " + std::to_string(group) + " for ARP reports";
  const nfulnl_msg_config_cmd bind{NFULNL_CFG_CMD_BIND};
  TRY_VOID(configure(l->sock_.get(), group, NFULA_CFG_CMD, &bind, sizeof bind, what));
  nfulnl_msg_config_mode mode{};
  mode.copy_range = htonl(128);
  mode.copy_mode = NFULNL_COPY_PACKET;
  TRY_VOID(configure(l->sock_.get(), group, NFULA_CFG_MODE, &mode, sizeof mode, what));
  const uint32_t one = htonl(1);  // each report on its own, at once
  TRY_VOID(configure(l->sock_.get(), group, NFULA_CFG_QTHRESH, &one, sizeof one, what));
  l->stop_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!l->stop_) return fail(sysError(errno, "eventfd"));
  l->wake_ = std::move(wake);
  l->thread_ = std::thread([p = l.get()] { p->run(); });
  return l;
}

MissListener::~MissListener() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!::write(stop_.get(), &one, sizeof one);
    thread_.join();
  }
}

void MissListener::setWake(std::function<void()> wake) {
  std::lock_guard lk(mu_);
  wake_ = std::move(wake);
}

std::set<Miss> MissListener::take() {
  std::lock_guard lk(mu_);
  return std::exchange(queue_, {});
}

void MissListener::run() {
  pollfd fds[2] = {{sock_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
  alignas(nlmsghdr) uint8_t buf[16384];
  for (;;) {
    const int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || fds[1].revents) return;
    bool queued = false;
    for (;;) {
      const ssize_t got = ::recv(sock_.get(), buf, sizeof buf, 0);
      if (got < 0) {
        if (errno == ENOBUFS) {  // the kernel dropped reports: the askers ask again (ARP retries)
          ++lost_;
          continue;
        }
        if (errno != EAGAIN && errno != EINTR)
          log::warn("watch: reading ARP reports: " + std::string(std::strerror(errno)));
        break;
      }
      auto misses = parseMissReports(buf, size_t(got));
      std::lock_guard lk(mu_);
      for (auto& m : misses) {
        ++reported_;
        if (queue_.size() >= kQueued && !queue_.count(m)) {
          ++lost_;
          continue;
        }
        queued = queue_.insert(std::move(m)).second || queued;
      }
    }
    if (!queued) continue;
    std::lock_guard lk(mu_);
    if (wake_) wake_();
  }
}

}  // namespace ovl::vxlan
