// The ARP reports as nfnetlink_log hands them to `overlay watch`, parsed (vxlan/misses.hpp): NFULNL_MSG_PACKET
// messages built here by hand, byte for byte, as the kernel lays them out for the bridge family. What is
// truncated or of another kind is skipped without reading past its message or the datagram; what came
// before it is kept.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "vxlan/misses.hpp"

using namespace ovl;
using Bytes = std::vector<uint8_t>;

namespace {

constexpr uint16_t kPacket = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;

struct Attr {
  uint16_t type;
  Bytes data;
};

Bytes be32(uint32_t v) { return {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)}; }

// An ARP packet (28 bytes): Ethernet/IPv4, `op`, sender `mac` at 10.9.9.9, asking for `target`.
Bytes arp(const char* target, uint8_t macLast = 0x01, uint8_t op = 1) {
  Bytes p{0, 1, 0x08, 0x00, 6, 4, 0, op, 2, 0, 0, 0, 0, macLast, 10, 9, 9, 9, 0, 0, 0, 0, 0, 0};
  const IpAddr t = *IpAddr::parse(target);
  p.insert(p.end(), t.bytes(), t.bytes() + 4);
  return p;
}
// The same behind an Ethernet header (ether type `type`).
Bytes framed(const Bytes& arpPacket, uint8_t typeHi = 0x08, uint8_t typeLo = 0x06) {
  Bytes f{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, typeHi, typeLo};
  f.insert(f.end(), arpPacket.begin(), arpPacket.end());
  return f;
}

Attr payload(Bytes p) { return {NFULA_PAYLOAD, std::move(p)}; }
Attr bridge(uint32_t i) { return {NFULA_IFINDEX_OUTDEV, be32(i)}; }
Attr port(uint32_t i) { return {NFULA_IFINDEX_PHYSOUTDEV, be32(i)}; }
Attr packetHdr() { return {NFULA_PACKET_HDR, {0x08, 0x06, 3, 0}}; }  // hw_protocol ARP, hook NF_BR_FORWARD

// One netlink message: nlmsghdr, nfgenmsg, the attributes (each padded).
Bytes message(uint16_t type, const std::vector<Attr>& attrs) {
  Bytes body(NLMSG_ALIGN(sizeof(nfgenmsg)));
  nfgenmsg g{};
  g.nfgen_family = 7;  // NFPROTO_BRIDGE
  g.version = NFNETLINK_V0;
  g.res_id = htons(20310);
  std::memcpy(body.data(), &g, sizeof g);
  for (const auto& a : attrs) {
    nlattr na{};
    na.nla_len = uint16_t(NLA_HDRLEN + a.data.size());
    na.nla_type = a.type;
    const size_t at = body.size();
    body.resize(at + NLA_ALIGN(na.nla_len));
    std::memcpy(body.data() + at, &na, sizeof na);
    if (!a.data.empty()) std::memcpy(body.data() + at + NLA_HDRLEN, a.data.data(), a.data.size());  // empty: no pointer
  }
  nlmsghdr h{};
  h.nlmsg_len = uint32_t(NLMSG_HDRLEN + body.size());
  h.nlmsg_type = type;
  Bytes out(NLMSG_HDRLEN + body.size());
  std::memcpy(out.data(), &h, sizeof h);
  std::memcpy(out.data() + NLMSG_HDRLEN, body.data(), body.size());
  return out;
}

// What the kernel sends for a request leaving bridge `br` by port `p`.
Bytes report(uint32_t br, uint32_t p, const char* target, uint8_t macLast = 0x01) {
  return message(kPacket, {packetHdr(), bridge(br), port(p), payload(arp(target, macLast))});
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

void setLen(Bytes& b, size_t msgAt, uint32_t len) { std::memcpy(b.data() + msgAt + offsetof(nlmsghdr, nlmsg_len), &len, 4); }
// The nla_len of the attribute `attrAt` bytes after the nfgenmsg of the message at `msgAt`.
void setNlaLen(Bytes& b, size_t msgAt, size_t attrAt, uint16_t len) {
  std::memcpy(b.data() + msgAt + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg)) + attrAt + offsetof(nlattr, nla_len), &len, 2);
}
constexpr size_t kAttr4 = NLA_HDRLEN + 4;  // the packet header and the ifindex attributes

// Parses the first `n` bytes (all by default) from a heap block of exactly that size, so that a sanitizer
// build sees any read past it; "port/bridge IP asker" per report.
std::vector<std::string> parse(const Bytes& b, size_t n = SIZE_MAX) {
  n = std::min(n, b.size());
  std::unique_ptr<uint8_t[]> exact(new uint8_t[n ? n : 1]);
  if (n) std::memcpy(exact.get(), b.data(), n);
  std::vector<std::string> out;
  for (const auto& m : vxlan::parseMissReports(exact.get(), n))
    out.push_back(std::to_string(m.port) + "/" + std::to_string(m.bridge) + " " + m.ip.str() + " " + m.asker.str());
  return out;
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("miss reports: a logged ARP request gives the port, the bridge, the address and the asker") {
  CHECK(parse(report(5, 7, "10.1.2.3")) == V{"7/5 10.1.2.3 02:00:00:00:00:01"});
  const Bytes one = report(5, 7, "10.1.2.3");
  const auto r = vxlan::parseMissReports(one.data(), one.size());
  REQUIRE(r.size() == 1);
  CHECK(r[0] == vxlan::Miss{7, 5, *IpAddr::parse("10.1.2.3"), *MacAddr::parse("02:00:00:00:00:01"),
                            *IpAddr::parse("10.9.9.9")});
  CHECK(r[0].ip.isV4());
  // The attributes in any order, with others the kernel adds; the port and bridge when not said are 0.
  CHECK(parse(message(kPacket, {payload(arp("10.1.2.4")), {NFULA_MARK, be32(9)}, port(8), bridge(6)})) ==
        V{"8/6 10.1.2.4 02:00:00:00:00:01"});
  CHECK(parse(message(kPacket, {payload(arp("10.1.2.5"))})) == V{"0/0 10.1.2.5 02:00:00:00:00:01"});
  // An ifindex attribute of another size is not believed.
  CHECK(parse(message(kPacket, {{NFULA_IFINDEX_OUTDEV, {0, 5}}, port(7), payload(arp("10.1.2.6"))})) ==
        V{"7/0 10.1.2.6 02:00:00:00:00:01"});
}

TEST_CASE("miss reports: the ARP packet at the payload's start or after an Ethernet header") {
  CHECK(parse(message(kPacket, {bridge(5), port(7), payload(framed(arp("10.1.2.3", 0x22)))})) ==
        V{"7/5 10.1.2.3 02:00:00:00:00:22"});
  // The snap length cuts nothing that matters: a longer payload (padding) is fine.
  Bytes padded = arp("10.1.2.4");
  padded.resize(46, 0);
  CHECK(parse(message(kPacket, {payload(padded)})) == V{"0/0 10.1.2.4 02:00:00:00:00:01"});
}

TEST_CASE("miss reports: anything but an IPv4-over-Ethernet ARP request is skipped") {
  auto only = [](Bytes p) { return parse(message(kPacket, {bridge(5), port(7), payload(std::move(p))})); };
  CHECK(only(arp("10.1.2.3", 1, 2)).empty());  // a reply
  CHECK(only(framed(arp("10.1.2.3", 1, 2))).empty());
  CHECK(only(framed(arp("10.1.2.3"), 0x08, 0x00)).empty());  // an IPv4 frame that happens to hold one
  Bytes p = arp("10.1.2.3");
  p[1] = 6;  // hardware type IEEE 802
  CHECK(only(p).empty());
  p = arp("10.1.2.3");
  p[2] = 0x86, p[3] = 0xdd;  // protocol IPv6
  CHECK(only(p).empty());
  p = arp("10.1.2.3");
  p[4] = 8;  // hardware address length
  CHECK(only(p).empty());
  p = arp("10.1.2.3");
  p[5] = 16;  // protocol address length
  CHECK(only(p).empty());
  p = arp("10.1.2.3");
  p.resize(27);  // one byte short of the target address
  CHECK(only(p).empty());
  CHECK(only(framed(p)).empty());
  CHECK(only({}).empty());
  CHECK(parse(message(kPacket, {bridge(5), port(7)})).empty());  // no payload at all
}

TEST_CASE("miss reports: other netlink messages are skipped, several reports in one datagram kept in order") {
  const Bytes b = cat({report(5, 7, "10.1.2.3"),
                       message((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG, {payload(arp("10.1.2.100"))}),
                       message((NFNL_SUBSYS_QUEUE << 8) | NFULNL_MSG_PACKET, {payload(arp("10.1.2.101"))}),
                       report(5, 7, "10.1.2.4", 0x02),
                       message(NLMSG_ERROR, {payload(arp("10.1.2.102"))}),
                       report(5, 7, "10.1.2.3"),  // again: take() dedups, the parser does not
                       message(NLMSG_DONE, {payload(arp("10.1.2.103"))}),
                       report(6, 9, "10.2.0.1")});
  CHECK(parse(b) == V{"7/5 10.1.2.3 02:00:00:00:00:01", "7/5 10.1.2.4 02:00:00:00:00:02",
                      "7/5 10.1.2.3 02:00:00:00:00:01", "9/6 10.2.0.1 02:00:00:00:00:01"});
}

TEST_CASE("miss reports: nothing, or less than a header, is no report") {
  CHECK(parse({}).empty());
  const Bytes one = report(5, 7, "10.1.2.3");
  CHECK(parse(one, sizeof(nlmsghdr) - 1).empty());
  CHECK(parse(one, sizeof(nlmsghdr)).empty());  // the header says more follows
  CHECK(parse(one, one.size() - 1).empty());    // one byte short
  CHECK(parse(cat({one, Bytes(10, 0xff)})) == V{"7/5 10.1.2.3 02:00:00:00:00:01"});  // trailing bytes, no header
}

TEST_CASE("miss reports: a message longer than the datagram ends the parse, keeping what came before") {
  const size_t second = report(5, 7, "10.1.2.3").size();
  for (uint32_t len : {0u, 1u, uint32_t(sizeof(nlmsghdr) - 1), 0xffffffffu}) {
    CAPTURE(len);  // 0 and below a header end it too: no endless loop
    Bytes b = cat({report(5, 7, "10.1.2.3"), report(5, 7, "10.1.2.4"), report(5, 7, "10.1.2.5")});
    setLen(b, second, len);
    CHECK(parse(b) == V{"7/5 10.1.2.3 02:00:00:00:00:01"});
  }
  Bytes b = cat({report(5, 7, "10.1.2.3"), report(5, 7, "10.1.2.4")});
  setLen(b, second, uint32_t(second + 1));  // one byte more than is there
  CHECK(parse(b) == V{"7/5 10.1.2.3 02:00:00:00:00:01"});
  b = cat({report(5, 7, "10.1.2.3"), report(5, 7, "10.1.2.4")});
  CHECK(parse(b, b.size() - 3) == V{"7/5 10.1.2.3 02:00:00:00:00:01"});  // cut inside the second
}

TEST_CASE("miss reports: a message too short for its nfgenmsg is skipped, the next one is read") {
  Bytes bare = report(5, 7, "10.1.2.3");
  bare.resize(NLMSG_HDRLEN + 2);
  setLen(bare, 0, uint32_t(bare.size()));
  bare.resize(NLMSG_ALIGN(bare.size()));  // padded to the next message, as the kernel does
  CHECK(parse(cat({bare, report(5, 7, "10.1.2.4")})) == V{"7/5 10.1.2.4 02:00:00:00:00:01"});
  bare.resize(NLMSG_HDRLEN);
  setLen(bare, 0, NLMSG_HDRLEN);
  CHECK(parse(cat({bare, report(5, 7, "10.1.2.4")})) == V{"7/5 10.1.2.4 02:00:00:00:00:01"});
}

TEST_CASE("miss reports: an attribute of length 0 or below its header ends that message's attributes") {
  for (uint16_t len : {uint16_t(0), uint16_t(1), uint16_t(NLA_HDRLEN - 1)}) {
    CAPTURE(len);
    // The packet header broken: nothing after it is read, the next message is.
    Bytes first = report(5, 7, "10.1.2.3");
    setNlaLen(first, 0, 0, len);
    CHECK(parse(cat({first, report(6, 9, "10.1.2.4")})) == V{"9/6 10.1.2.4 02:00:00:00:00:01"});
    // The payload read before a broken attribute counts; the ifindex after it is not read.
    Bytes early = message(kPacket, {bridge(5), payload(arp("10.1.2.5")), port(7), port(8)});
    setNlaLen(early, 0, kAttr4 + NLA_ALIGN(NLA_HDRLEN + 28), len);
    CHECK(parse(early) == V{"0/5 10.1.2.5 02:00:00:00:00:01"});
  }
}

TEST_CASE("miss reports: an attribute reaching past its message is not read from what follows") {
  // The message ends right after the payload attribute's header; the datagram goes on with bytes that
  // would make an ARP request if read as its payload.
  Bytes cut = message(kPacket, {bridge(5), port(7), payload({})});
  setNlaLen(cut, 0, 2 * kAttr4, uint16_t(NLA_HDRLEN + 28));
  CHECK(parse(cat({cut, arp("10.1.2.3")})).empty());
  CHECK(parse(cat({cut, report(6, 9, "10.1.2.4")})) == V{"9/6 10.1.2.4 02:00:00:00:00:01"});
  // An nla_len far past the message and the datagram.
  Bytes big = report(5, 7, "10.1.2.3");
  setNlaLen(big, 0, 3 * kAttr4, 0xffff);  // the payload
  CHECK(parse(cat({big, report(6, 9, "10.1.2.4")})) == V{"9/6 10.1.2.4 02:00:00:00:00:01"});
  // Last in the datagram, the payload one byte longer than what is left.
  Bytes last = report(5, 7, "10.1.2.3");
  setNlaLen(last, 0, 3 * kAttr4, uint16_t(NLA_HDRLEN + 28 + 1));
  CHECK(parse(cat({report(6, 9, "10.1.2.4"), last})) == V{"9/6 10.1.2.4 02:00:00:00:00:01"});
}
