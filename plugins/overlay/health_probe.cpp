#include "overlay/health_probe.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "ns/netns.hpp"

namespace ovl::overlay {
namespace {

uint16_t checksum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += uint32_t(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons(uint16_t(~sum));
}

}  // namespace

Result<Prober> Prober::open(int netnsFd) {
  UniqueFd fd;
  {
    auto in = TRY(ns::ScopedNetns::enterFd(netnsFd, "the health namespace"));
    fd = UniqueFd(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_ICMP));
  }
  if (!fd) return fail(sysError(errno, "opening an ICMP socket in the health namespace"));
  int df = IP_PMTUDISC_PROBE;  // DF set, the path MTU cache ignored: each probe measures the path again
  if (::setsockopt(fd.get(), IPPROTO_IP, IP_MTU_DISCOVER, &df, sizeof df) < 0)
    return fail(sysError(errno, "setting DF on the health probes"));
  return Prober(std::move(fd), uint16_t(::getpid()));
}

Result<bool> Prober::send(const IpAddr& to, uint16_t seq, unsigned size) {
  const size_t len = std::max<size_t>(size, 36) - sizeof(iphdr);
  std::vector<uint8_t> pkt(len, 0xa5);
  icmphdr h{};
  h.type = ICMP_ECHO;
  h.un.echo.id = htons(id_);
  h.un.echo.sequence = htons(seq);
  std::memcpy(pkt.data(), &h, sizeof h);
  const uint16_t sum = checksum(pkt.data(), pkt.size());
  std::memcpy(pkt.data() + offsetof(icmphdr, checksum), &sum, sizeof sum);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  std::memcpy(&sa.sin_addr, to.bytes(), 4);
  if (::sendto(fd_.get(), pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) >= 0) return true;
  if (errno == EMSGSIZE || errno == EAGAIN || errno == ENOBUFS || errno == EHOSTUNREACH || errno == ENETUNREACH)
    return false;
  return fail(sysError(errno, "sending a health probe to " + to.str()));
}

std::vector<EchoReply> Prober::receive(std::chrono::steady_clock::time_point deadline) {
  std::vector<EchoReply> out;
  uint8_t buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return out;
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, int(left.count())) <= 0) continue;
    for (;;) {
      ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
      if (n < 0) break;
      if (size_t(n) < sizeof(iphdr)) continue;
      const auto* ip = reinterpret_cast<const iphdr*>(buf);
      const size_t hl = size_t(ip->ihl) * 4;
      if (size_t(n) < hl + sizeof(icmphdr)) continue;
      icmphdr h;
      std::memcpy(&h, buf + hl, sizeof h);
      if (h.type != ICMP_ECHOREPLY || ntohs(h.un.echo.id) != id_) continue;
      out.push_back({IpAddr::fromBytes(AF_INET, &ip->saddr), ntohs(h.un.echo.sequence), std::chrono::steady_clock::now()});
    }
  }
}

}  // namespace ovl::overlay
