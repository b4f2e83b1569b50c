"""Probes that bench/helper.py runs without exec'ing anything, so their own cost stays out of the figures.

A socket made while the calling thread is in a container's network namespace keeps working there after
the thread has gone back (setns(2) switches only the calling thread). So a helper in a host namespace
can ping from, or ask the DNS of, any container without `ip netns exec` or `nsenter`:

    t = first_ping("/run/netns/x-h2-c7", "10.150.0.9", timeout=5)     # time.time() of the first reply
    t = first_answer("/run/netns/x-h2-c7", "web1", timeout=5)         # first A answer from 127.0.0.11
    cap = Capture("eth0"); ...; cap.stop()                             # VXLAN frames this host sent

Returned times are wall-clock (time.time()) so that they compare with the helper's ADD end stamps.
"""

import ctypes
import os
import random
import select
import socket
import struct
import threading
import time

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
VXLAN_PORT = 4789


def _setns(fd, what):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns into {what}: {os.strerror(err)}")


def socket_in(netns_path, family, kind, proto=0):
    """A socket that lives in netns_path; the calling thread is back in its own namespace on return."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target, netns_path)
            try:
                return socket.socket(family, kind, proto)
            finally:
                try:
                    _setns(own, "the helper's own netns")
                except OSError:
                    # Carrying on in the wrong namespace would spoil every later measurement.
                    os.write(2, b"probes: cannot return to the helper's netns\n")
                    os._exit(70)
        finally:
            os.close(target)
    finally:
        os.close(own)


def _checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def _echo(ident, seq):
    payload = struct.pack("!d", time.time())
    head = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    return struct.pack("!BBHHH", 8, 0, _checksum(head + payload), ident, seq) + payload


def first_ping(netns, ip, timeout=5.0, interval=0.002):
    """Sends ICMP echo requests to ip from netns every `interval` until the first reply; returns the
    reply's arrival (time.time()) or None after `timeout` s. Like `ping -i 0.002 -w TIMEOUT -c 1`."""
    s = socket_in(netns, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    with s:
        ident, seq = random.randrange(1, 65536), 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seq = (seq + 1) & 0xFFFF
            try:
                s.sendto(_echo(ident, seq), (ip, 0))
            except OSError:
                pass  # e.g. EHOSTUNREACH while the neighbour entry is FAILED: keep trying, as ping does
            until = time.monotonic() + interval
            while True:
                left = until - time.monotonic()
                if left <= 0 or not select.select([s], [], [], left)[0]:
                    break
                data, addr = s.recvfrom(2048)
                ihl = (data[0] & 0x0F) * 4
                if addr[0] == ip and len(data) >= ihl + 8:
                    typ, _, _, rid, _ = struct.unpack("!BBHHH", data[ihl:ihl + 8])
                    if typ == 0 and rid == ident:
                        return time.time()
    return None


def _dns_query(qid, name):
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.strip(".").split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", 1, 1)


def first_answer(netns, name, timeout=5.0, interval=0.002, reply_wait=0.05, server=("127.0.0.11", 53)):
    """Asks server (inside netns) for NAME's A record every `interval` until an answer with at least one
    record (rcode 0); returns its arrival (time.time()) or None after `timeout` s. Like a loop of
    `drill NAME @127.0.0.11`; a query unanswered for reply_wait s is sent again."""
    s = socket_in(netns, socket.AF_INET, socket.SOCK_DGRAM)
    with s:
        s.connect(server)
        sent = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            qid = random.randrange(65536)
            sent.add(qid)
            try:
                s.send(_dns_query(qid, name))
            except OSError:
                pass  # ECONNREFUSED from an earlier datagram: nobody listens (yet)
            if _await_answer(s, sent, time.monotonic() + reply_wait):
                return time.time()
            time.sleep(interval)
    return None


def _await_answer(s, sent, until):
    """True when a positive answer to one of our queries arrives before `until`; False on a negative
    answer (NXDOMAIN: the name is not there yet) or when the time is up."""
    while True:
        left = until - time.monotonic()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            return False
        try:
            data = s.recv(4096)
        except OSError:
            return False
        if len(data) < 12:
            continue
        rid, flags, _, ancount, _, _ = struct.unpack("!HHHHHH", data[:12])
        if rid in sent and flags & 0x8000:
            return flags & 0x000F == 0 and ancount > 0


ICMPV6 = {133: "router solicitation", 134: "router advertisement", 135: "neighbour solicitation",
          136: "neighbour advertisement", 143: "MLDv2 report"}


def _icmpv6_name(frame, ip6):
    """The ICMPv6 message an IPv6 packet at offset ip6 carries (behind a hop-by-hop header too), or None."""
    if len(frame) < ip6 + 40 + 1:
        return None
    nxt, off = frame[ip6 + 6], ip6 + 40
    if nxt == 0 and len(frame) >= off + 2:  # hop-by-hop options (MLD has one)
        nxt, off = frame[off], off + (frame[off + 1] + 1) * 8
    if nxt != 58 or len(frame) <= off:
        return None
    return ICMPV6.get(frame[off], f"icmpv6 type {frame[off]}")


def _vxlan_inner(frame):
    """The kind of frame a VXLAN packet sent over IPv4 carries: ("arp", op, sender ip, target ip) for ARP, else
    (class, ethertype) with class "ipv6-multicast" (33:33:..., e.g. router solicitations), "broadcast" (other
    group addresses) or "unicast"; None for anything that is not VXLAN."""
    if len(frame) < 14 + 20 or frame[12:14] != b"\x08\x00":
        return None
    ihl = (frame[14] & 0x0F) * 4
    if frame[23] != socket.IPPROTO_UDP:
        return None
    udp = 14 + ihl
    if len(frame) < udp + 8 + 8 + 14 or struct.unpack("!H", frame[udp + 2:udp + 4])[0] != VXLAN_PORT:
        return None
    inner = udp + 8 + 8
    ethertype = frame[inner + 12:inner + 14].hex()
    if ethertype == "0806" and len(frame) >= inner + 14 + 28:
        arp = inner + 14
        op = struct.unpack("!H", frame[arp + 6:arp + 8])[0]
        return ("arp", op, socket.inet_ntoa(frame[arp + 14:arp + 18]), socket.inet_ntoa(frame[arp + 24:arp + 28]))
    dst = frame[inner:inner + 6]
    if dst[:2] == b"\x33\x33":
        return ("ipv6-multicast", _icmpv6_name(frame, inner + 14) or ethertype)
    return ("broadcast" if dst[0] & 1 else "unicast", ethertype)


class Capture:
    """Counts the VXLAN frames this namespace sends on `ifname` (an AF_PACKET socket, like tcpdump), by what
    they carry (see _vxlan_inner)."""

    def __init__(self, ifname="eth0"):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.bind((ifname, 0))
        self.sock.settimeout(0.05)
        self.counts = {}
        self.vxlan_out = 0
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.is_set():
            try:
                frame, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            if addr[2] != socket.PACKET_OUTGOING:
                continue
            key = _vxlan_inner(frame)
            if key is None:
                continue
            self.vxlan_out += 1
            self.counts[key] = self.counts.get(key, 0) + 1

    def stop(self):
        """Stops capturing; returns {"vxlan_out": N, "secs": S, "arp": [{"op", "spa", "tpa", "n"}],
        "kinds": {"arp" | "ipv6-multicast 86dd" | "broadcast 0800" | "unicast 0800" ...: N}}."""
        self._stop.set()
        self._thread.join()
        self.sock.close()
        arp = [{"op": k[1], "spa": k[2], "tpa": k[3], "n": n} for k, n in self.counts.items() if k[0] == "arp"]
        kinds = {}
        for k, n in self.counts.items():
            name = "arp" if k[0] == "arp" else f"{k[0]} {k[1]}"
            kinds[name] = kinds.get(name, 0) + n
        return {"vxlan_out": self.vxlan_out, "secs": time.monotonic() - self.started, "arp": arp, "kinds": kinds}
