#include "nl/garp.hpp"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if_arp.h>
#include <net/ethernet.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace ovl::nl {

Result<UniqueFd> openArpSocket() {
  UniqueFd fd(::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail(sysError(errno, "packet socket"));
  return fd;
}

Result<void> sendGratuitousArp(int arpSocket, int ifindex, const MacAddr& mac, const IpAddr& ip) {
  if (!ip.isV4()) return fail(Code::Internal, "gratuitous ARP for a non-IPv4 address " + ip.str());
  return sendArpRequest(arpSocket, ifindex, mac, ip, ip);
}

Result<void> sendArpRequest(int arpSocket, int ifindex, const MacAddr& senderMac, const IpAddr& sender,
                            const IpAddr& target) {
  if (!sender.isV4() || !target.isV4())
    return fail(Code::Internal, "ARP request for " + target.str() + " from " + sender.str() + ": not IPv4");
  struct __attribute__((packed)) {
    arphdr h;
    uint8_t sha[6];
    uint8_t sip[4];
    uint8_t tha[6];
    uint8_t tip[4];
  } pkt{};
  pkt.h.ar_hrd = htons(ARPHRD_ETHER);
  pkt.h.ar_pro = htons(ETH_P_IP);
  pkt.h.ar_hln = 6;
  pkt.h.ar_pln = 4;
  pkt.h.ar_op = htons(ARPOP_REQUEST);
  std::memcpy(pkt.sha, senderMac.bytes().data(), 6);
  std::memcpy(pkt.sip, sender.bytes(), 4);
  std::memcpy(pkt.tip, target.bytes(), 4);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_ARP);
  to.sll_ifindex = ifindex;
  to.sll_halen = 6;
  std::memset(to.sll_addr, 0xff, 6);
  if (::sendto(arpSocket, &pkt, sizeof pkt, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0)
    return fail(sysError(errno, "sending an ARP request for " + target.str()));
  return {};
}

}  // namespace ovl::nl
