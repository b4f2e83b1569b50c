"""End-to-end: name resolution across hosts (issue 10), with overlay-resolver on every host.

Topology: Consul on cs, hosts h1 and h2 (each running `overlay watch` and `overlay-resolver`), a router and
an "internet" host 203.0.113.1 running dnsmasq as the upstream resolver (it knows outside.example).
Networks: over (10.0.0.0/24) and over2 (10.0.1.0/24). Containers ask 127.0.0.11 from inside their own
namespace, with drill (ldnsutils) and with ping through a resolv.conf written from the ADD result.
"""

import glob
import json
import os
import random
import re
import socket
import subprocess
import time
import unittest

from ovltest.consul import ConsulServer
from ovltest.netns import Topology, ns_name
from ovltest.plugins import find_binary, run_plugin
from ovltest.timing import scaled

PREFIX = "overlay-cni"


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
UPSTREAM = "203.0.113.1"
SILENT = "203.0.113.99"  # nothing there: dnsmasq's forwards for slow.example are never answered

# TXT records of big.example at the upstream: about 1.6 KB, more than a UDP answer without EDNS may carry.
BIG_TXT = [f"{i:02d}" + "x" * 198 for i in range(8)]

# DNS over TCP from inside a container: `udp-tc NAME` prints the TC bit of a UDP answer (no EDNS) for NAME
# TXT; `limits` checks the resolver's bounds: the per-container connection cap, the query size limit and the
# idle timeout, printing one line per finding.
TCP_PROBE = r"""
import socket, sys, time
def query(name, qtype=16):
    q = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    return b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + q + qtype.to_bytes(2, "big") + b"\x00\x01"
def closed(s, wait):
    s.settimeout(wait)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True
if sys.argv[1] == "udp-tc":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(query(sys.argv[2]), ("127.0.0.11", 53))
    print("tc" if s.recv(65535)[2] & 0x02 else "no-tc")
    sys.exit(0)
held = [socket.create_connection(("127.0.0.11", 53), timeout=2) for _ in range(16)]
extra = socket.create_connection(("127.0.0.11", 53), timeout=2)
print("17th closed:", closed(extra, 2), flush=True)
for s in held[:1]:
    s.sendall(b"\x20\x00")  # announces an 8 KiB query
print("oversized closed:", closed(held[0], 2), flush=True)
start = time.monotonic()
print("idle closed:", all(closed(s, 15) for s in held[1:]), round(time.monotonic() - start), flush=True)
s = socket.create_connection(("127.0.0.11", 53), timeout=2)
s.sendall(len(query(sys.argv[2], 1)).to_bytes(2, "big") + query(sys.argv[2], 1))
s.settimeout(5)
n = int.from_bytes(s.recv(2), "big")
print("answer after:", len(s.recv(n)) == n and n > 12, flush=True)
s = socket.create_connection(("127.0.0.11", 53), timeout=2)
s.sendall(len(query(sys.argv[2], 1)).to_bytes(2, "big") + query(sys.argv[2], 1))
s.shutdown(socket.SHUT_WR)  # a client that half-closes after its query still gets the answer
s.settimeout(5)
n = int.from_bytes(s.recv(2), "big")
print("answer after shutdown:", len(s.recv(n)) == n and n > 12, closed(s, 5), flush=True)
"""

# Sends N queries for distinct names under slow.example in bursts of 100, prints "sent", then counts the answers
# that come back within a second by rcode.
FLOOD = r"""
import socket, sys, time, collections
n = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
for i in range(n):
    if i and i % 100 == 0:
        time.sleep(0.02)  # in bursts the resolver's socket buffer can hold
    name = b"".join(bytes([len(l)]) + l for l in (b"q%d" % i, b"slow", b"example")) + b"\0"
    s.sendto(i.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + name + b"\x00\x01\x00\x01",
             ("127.0.0.11", 53))
print("sent", flush=True)
rcodes = collections.Counter()
s.settimeout(0.2)
end = time.monotonic() + 1.0
while time.monotonic() < end:
    try:
        rcodes[s.recv(4096)[3] & 15] += 1
    except OSError:
        pass
print(dict((str(k), v) for k, v in rcodes.items()), flush=True)
"""


def conf(net, subnet, **extra):
    c = {"cniVersion": "1.0.0", "name": net, "type": "overlay", "capabilities": {"aliases": True},
         "ipam": {"type": "overlay-ipam", "subnet": subnet, "store": "consul"}}
    c.update(extra)
    return c


OVER = conf("over", "10.0.0.0/24")
OVER2 = conf("over2", "10.0.1.0/24")


class ResolverE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = t = Topology()
        t.start()
        try:
            cls.cs = t.add_host("cs", "198.51.100.10/24")
            cls.hosts = [t.add_host(f"h{i}", f"198.51.100.{10 + i}/24", mtu=1400) for i in (1, 2)]
            inet = t.add_internet(f"{UPSTREAM}/24")
            cls.dnsmasq_log = os.path.join(t.tmpdir, "dnsmasq.log")
            t.popen(inet, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                    "--bind-interfaces", f"--listen-address={UPSTREAM}", "--user=root", "--pid-file=",
                    "--address=/outside.example/203.0.113.80", "--address=/missing.example/",
                    f"--server=/slow.example/{SILENT}", "--dns-forward-max=2000",
                    *(f"--txt-record=big.example,{t}" for t in BIG_TXT), "--log-queries", f"--log-facility={cls.dnsmasq_log}")
            cls.consul = ConsulServer(t, cls.cs, "198.51.100.10")
            cls.node_cfg, cls.resolvers, cls.watchers = {}, {}, {}
            for h in cls.hosts:
                path = os.path.join(t.tmpdir, f"node-{h.name}.json")
                with open(path, "w") as f:
                    json.dump({"store": cls.consul.store_url, "hostName": h.name, "advertise": "eth0",
                               "stateDir": os.path.join(t.tmpdir, f"st-{h.name}"),
                               "resolver": {"upstreams": [UPSTREAM]}}, f)
                cls.node_cfg[h.name] = path
                cls.start_watcher(h)
                cls.start_resolver(h)
        except BaseException:
            cls.cleanup_all()
            raise

    @classmethod
    def cleanup_all(cls):
        cls.t.cleanup()

    @classmethod
    def tearDownClass(cls):
        cls.cleanup_all()

    @classmethod
    def env(cls, host):
        return {"OVL_NODE_CONFIG": cls.node_cfg[host.name]}

    @classmethod
    def start_watcher(cls, host):
        log = open(os.path.join(cls.t.tmpdir, f"watch-{host.name}.log"), "a")
        cls.watchers[host.name] = cls.t.popen(host, find_binary("overlay"), "watch", env=cls.env(host), stdout=log,
                                              stderr=log)
        log.close()

    @classmethod
    def start_resolver(cls, host, wrap=(), env=None):
        log = open(os.path.join(cls.t.tmpdir, f"resolver-{host.name}.log"), "a")
        p = cls.t.popen(host, *wrap, find_binary("overlay-resolver"), env=env or cls.env(host), stdout=log, stderr=log)
        log.close()
        sock_dir = os.path.join(cls.t.tmpdir, f"st-{host.name}")
        deadline = time.monotonic() + scaled(10)
        while time.monotonic() < deadline:  # ready once its control socket exists
            if any(os.path.exists(os.path.join(sock_dir, d, "resolver.sock"))
                   for d in (os.listdir(sock_dir) if os.path.isdir(sock_dir) else [])):
                break
            if p.poll() is not None:
                raise AssertionError("overlay-resolver exited: " + cls.resolver_log(host))
            time.sleep(0.02)
        cls.resolvers[host.name] = p
        return p

    @classmethod
    def stop_resolver(cls, host):
        p = cls.resolvers.pop(host.name)
        p.terminate()
        rc = p.wait(timeout=10)
        # A clean exit that took its control socket with it (the plugins then leave 127.0.0.11 out).
        if rc != 0:
            raise AssertionError(f"overlay-resolver exited {rc} on SIGTERM: " + cls.resolver_log(host))
        sock_dir = os.path.join(cls.t.tmpdir, f"st-{host.name}")
        left = [d for d in (os.listdir(sock_dir) if os.path.isdir(sock_dir) else [])
                if os.path.exists(os.path.join(sock_dir, d, "resolver.sock"))]
        if left:
            raise AssertionError(f"overlay-resolver left its control socket in {left}")

    @classmethod
    def resolver_log(cls, host):
        with open(os.path.join(cls.t.tmpdir, f"resolver-{host.name}.log")) as f:
            return f.read()[-3000:]

    # --- helpers -----------------------------------------------------------------------------------
    def plugin(self, host, command, c, cid, netns, ifname="eth0", args=""):
        return run_plugin(self.t, host, "overlay", command, c, cid, netns, ifname, cni_args=args,
                          extra_env=self.env(host))

    def attach(self, host, c, cid, name=None, aliases=None, ifname="eth0", netns=None):
        netns = netns or self.t.add_container(host, cid)
        c = dict(c)
        if aliases is not None:
            c["runtimeConfig"] = {"aliases": {c["name"]: aliases}}
        args = f"IgnoreUnknown=1;K8S_POD_NAME={name}" if name else ""
        rc, res, out, err = self.plugin(host, "ADD", c, cid, netns, ifname, args)
        self.assertEqual(rc, 0, out + err[-2000:])
        self.addCleanup(self.plugin, host, "DEL", c, cid, "", ifname)
        return netns, res

    def detach(self, host, c, cid, ifname="eth0"):
        rc, _, out, err = self.plugin(host, "DEL", c, cid, "", ifname)
        self.assertEqual(rc, 0, out + err)

    def with_resolv_conf(self, netns, result, *argv):
        """Runs argv in netns with the resolv.conf a runtime that honours the result's dns writes (podman
        does), bind-mounted over /etc/resolv.conf in the private mount namespace `ip netns exec` gives the
        command: nothing is written to the machine's /etc/netns."""
        path = os.path.join(self.t.tmpdir, f"resolv-{ns_name(netns)}.conf")
        with open(path, "w") as f:
            for ns in result["dns"]["nameservers"]:
                f.write(f"nameserver {ns}\n")
            f.write("options timeout:1 attempts:1\n")
        return self.t.run(netns, "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"', path, *argv,
                          check=False)

    def query(self, netns, name, qtype="A", tcp=False):
        """(rcode, [addresses]) as drill sees it, asking 127.0.0.11 from inside netns (over TCP: drill -t)."""
        p = self.t.run(netns, "drill", *(["-t"] if tcp else []), name, qtype, "@127.0.0.11", check=False, timeout=20)
        m = re.search(r"rcode: (\w+)", p.stdout)
        rcode = m.group(1) if m else f"no answer ({p.stdout.strip()[-200:]} {p.stderr.strip()[-200:]})"
        addrs = re.findall(rf"^\S+\s+\d+\s+IN\s+{qtype}\s+(\S+)$", p.stdout, re.M)
        return rcode, addrs

    def wait_rcode(self, netns, name, want, deadline_s=1.0):
        """Seconds until `name` answers with rcode `want`, or None (polls up to scaled(deadline_s))."""
        deadline_s = scaled(deadline_s)
        start = time.monotonic()
        while True:
            rcode, _ = self.query(netns, name)
            elapsed = time.monotonic() - start
            if rcode == want:
                return elapsed
            if elapsed > deadline_s:
                return None

    @staticmethod
    def ip_of(res):
        return res["ips"][0]["address"].split("/")[0]

    # --- tests -------------------------------------------------------------------------------------
    def test_1_cross_host_by_name_and_alias_and_ping(self):
        h1, h2 = self.hosts
        n1, r1 = self.attach(h1, OVER, "web1", name="web1", aliases=["www", "Front.Example"])
        n2, r2 = self.attach(h2, OVER, "db1", name="db1", aliases=["database"])
        # The result advertises the resolver first, so podman-like runtimes write it into resolv.conf.
        self.assertEqual(r1["dns"]["nameservers"][0], "127.0.0.11", r1)
        ip1, ip2 = self.ip_of(r1), self.ip_of(r2)
        record = json.loads(self.consul.kv_get(f"{PREFIX}/attachments/over/h1/web1/eth0"))
        self.assertEqual(record["names"], ["web1", "www", "front.example"])
        for name in ("db1", "database", "DB1", "db1.over"):
            self.assertEqual(self.query(n1, name), ("NOERROR", [ip2]), name + self.resolver_log(h1))
        for name in ("web1", "www", "front.example", "FRONT.example"):
            self.assertEqual(self.query(n2, name), ("NOERROR", [ip1]), name + self.resolver_log(h2))
        # AAAA for an IPv4-only name: NOERROR without answers (NODATA), not NXDOMAIN.
        self.assertEqual(self.query(n1, "db1", "AAAA"), ("NOERROR", []))
        # ping by name, through the resolv.conf the result describes.
        p = self.with_resolv_conf(n1, r1, "ping", "-c", "1", "-W", "2", "database")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(ip2, p.stdout)
        g = self.with_resolv_conf(n1, r1, "getent", "hosts", "db1")
        self.assertEqual(g.stdout.split()[:1], [ip2], g.stdout + g.stderr)

    def test_2_networks_are_scoped(self):
        h1, h2 = self.hosts
        n1, r1 = self.attach(h1, OVER, "a-only", name="a-only")
        n2, r2 = self.attach(h2, OVER2, "b-only", name="b-only")
        nb = self.t.add_container(h1, "both")
        _, rb0 = self.attach(h1, OVER, "both", name="both", netns=nb)
        _, rb1 = self.attach(h1, OVER2, "both", name="both", ifname="eth1", netns=nb)
        # over2's container gets NXDOMAIN for a name that exists only on over, and the other way round.
        self.assertEqual(self.query(n2, "a-only")[0], "NXDOMAIN")
        self.assertEqual(self.query(n1, "b-only")[0], "NXDOMAIN")
        # The container on both networks resolves both; "both" has one address on each network.
        self.assertEqual(self.query(nb, "a-only"), ("NOERROR", [self.ip_of(r1)]))
        self.assertEqual(self.query(nb, "b-only"), ("NOERROR", [self.ip_of(r2)]))
        self.assertEqual(self.query(n1, "both"), ("NOERROR", [self.ip_of(rb0)]))
        self.assertEqual(self.query(n2, "both"), ("NOERROR", [self.ip_of(rb1)]))
        self.assertEqual(sorted(self.query(nb, "both")[1]), sorted([self.ip_of(rb0), self.ip_of(rb1)]))
        # A name that nobody has, single label: NXDOMAIN without asking upstream.
        self.assertEqual(self.query(n1, "nobody")[0], "NXDOMAIN")

    def test_3_adds_and_removals_show_within_a_second(self):
        h1, h2 = self.hosts
        n1, _ = self.attach(h1, OVER, "watcher1", name="watcher1")
        self.assertEqual(self.query(n1, "late")[0], "NXDOMAIN")
        _, r = self.attach(h2, OVER, "late", name="late")
        t_add = self.wait_rcode(n1, "late", "NOERROR")
        self.assertIsNotNone(t_add, f"name not visible within {scaled(1)} s after ADD on the other host")
        self.detach(h2, OVER, "late")
        t_del = self.wait_rcode(n1, "late", "NXDOMAIN")
        self.assertIsNotNone(t_del, f"name still resolves {scaled(1)} s after DEL on the other host")
        print(f"\n  name visible {t_add * 1000:.0f} ms after ADD returned, gone {t_del * 1000:.0f} ms after DEL")
        self.assertFalse(self.consul.kv_keys(f"{PREFIX}/attachments/over/h2/late/"))

    def test_4_outside_names_go_upstream(self):
        h1, _ = self.hosts
        n1, r1 = self.attach(h1, OVER, "surfer", name="surfer")
        self.assertEqual(self.query(n1, "outside.example"), ("NOERROR", ["203.0.113.80"]))
        self.assertEqual(self.query(n1, "missing.example")[0], "NXDOMAIN")  # dnsmasq's answer, relayed
        with open(self.dnsmasq_log) as f:
            self.assertIn("outside.example", f.read())
        g = self.with_resolv_conf(n1, r1, "getent", "hosts", "outside.example")
        self.assertEqual(g.stdout.split()[:1], ["203.0.113.80"], g.stdout + g.stderr)

    def test_4b_tcp_answers_what_udp_truncates(self):
        """127.0.0.11:53 answers over TCP too: names of the cluster, outside names relayed (over TCP), and an
        answer that UDP can only give truncated (TC) comes whole. TCP is bounded per container."""
        h1, h2 = self.hosts
        n1, r1 = self.attach(h1, OVER, "tcp1", name="tcp1")
        _, r2 = self.attach(h2, OVER, "tcp2", name="tcp2", aliases=["tcp-alias"])
        self.assertIsNotNone(self.wait_rcode(n1, "tcp-alias", "NOERROR"), "the name never showed (over UDP)")
        self.assertEqual(self.query(n1, "tcp-alias", tcp=True), ("NOERROR", [self.ip_of(r2)]), self.resolver_log(h1))
        self.assertEqual(self.query(n1, "nobody-here", tcp=True)[0], "NXDOMAIN")
        self.assertEqual(self.query(n1, "outside.example", tcp=True), ("NOERROR", ["203.0.113.80"]))
        probe = os.path.join(self.t.tmpdir, "tcp_probe.py")
        with open(probe, "w") as f:
            f.write(TCP_PROBE)
        p = self.t.run(n1, "/usr/bin/python3", probe, "udp-tc", "big.example", check=False, timeout=20)
        self.assertEqual(p.stdout.strip(), "tc", p.stderr)
        p = self.t.run(n1, "drill", "-t", "big.example", "TXT", "@127.0.0.11", check=False, timeout=20)
        txt = sorted(re.findall(r'IN\s+TXT\s+"(\w+)"', p.stdout))
        self.assertEqual(txt, BIG_TXT, p.stdout + p.stderr)
        # Bounds: 16 connections per container, queries up to 4 KiB, 10 s without a query.
        p = self.t.run(n1, "/usr/bin/python3", probe, "limits", "tcp2", check=False, timeout=60)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[:2], ["17th closed: True", "oversized closed: True"], p.stdout + p.stderr)
        self.assertTrue(lines[2].startswith("idle closed: True"), p.stdout + p.stderr)
        self.assertLessEqual(int(lines[2].split()[-1]), 12)
        self.assertEqual(lines[3:], ["answer after: True", "answer after shutdown: True True"], p.stdout + p.stderr)
        self.assertEqual(self.query(n1, "tcp1", tcp=True), ("NOERROR", [self.ip_of(r1)]))

    def test_5_malformed_packets_leave_it_answering(self):
        h1, h2 = self.hosts
        n1, _ = self.attach(h1, OVER, "fuzzer", name="fuzzer")
        _, r2 = self.attach(h2, OVER, "target", name="target")
        rnd = random.Random(7)
        valid = bytes.fromhex("12340100000100000000000006746172676574000001" "0001")
        packets = [b"", b"\x00", b"\xff" * 12, b"\x00" * 512, bytes(rnd.getrandbits(8) for _ in range(4000))]
        for i in range(1500):
            p = bytearray(valid)
            for _ in range(rnd.randint(1, 6)):  # flip bytes of a real query: counts, labels, pointers
                p[rnd.randrange(len(p))] = rnd.getrandbits(8)
            packets.append(bytes(p[:rnd.randint(0, len(p))]) if i % 5 == 0 else bytes(p))
        packets += [valid[:2] + b"\x81\x80" + valid[4:]]  # a response, not a query
        packets += [valid[:12] + b"\xc0\x0c" + valid[-4:]]  # compression pointer loop
        script = ("import sys,socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                  "data=sys.stdin.buffer.read()\ni=0\n"
                  "while i<len(data):\n n=int.from_bytes(data[i:i+2],'big'); s.sendto(data[i+2:i+2+n],('127.0.0.11',53)); i+=2+n\n")
        blob = os.path.join(self.t.tmpdir, "malformed.bin")
        with open(blob, "wb") as f:
            f.write(b"".join(len(p).to_bytes(2, "big") + p for p in packets))
        self.t.run(n1, "sh", "-c", f"python3 -c \"$0\" < {blob}", script)
        self.assertIsNone(self.resolvers["h1"].poll(), self.resolver_log(h1))
        self.assertEqual(self.query(n1, "target"), ("NOERROR", [self.ip_of(r2)]), self.resolver_log(h1))
        # The resolver listens inside containers only: nothing answers DNS on the host or the underlay.
        probe = ("import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.settimeout(0.5)\n"
                 "s.sendto(bytes.fromhex(sys.argv[2]),(sys.argv[1],53))\n"
                 "try:\n s.recv(512); print('answered')\nexcept OSError as e: print('silent', e)\n")
        for where, addr in ((h2, h1.ip), (h1, "127.0.0.11")):
            p = self.t.run(where, "python3", "-c", probe, addr, valid.hex())
            self.assertTrue(p.stdout.startswith("silent"), f"{where.name} -> {addr}: {p.stdout}")

    def test_6_resolver_down_add_succeeds_and_restart_restores(self):
        h1, h2 = self.hosts
        n_old, _ = self.attach(h1, OVER, "old", name="old")
        _, r_peer = self.attach(h2, OVER, "peer", name="peer")
        self.stop_resolver(h1)
        try:
            n_new, r_new = self.attach(h1, OVER, "new", name="new")
            self.assertNotIn("127.0.0.11", r_new.get("dns", {}).get("nameservers", []), r_new)
        finally:
            self.start_resolver(h1)
        # The restarted resolver reopens the namespaces it served before (its state file).
        self.assertEqual(self.query(n_old, "peer"), ("NOERROR", [self.ip_of(r_peer)]), self.resolver_log(h1))
        # The container attached while it was down is still known to the others by name.
        self.assertEqual(self.query(n_old, "new"), ("NOERROR", [self.ip_of(r_new)]))

    def test_7_resolver_off_per_network_and_bad_names(self):
        h1, _ = self.hosts
        quiet = conf("quiet", "10.0.2.0/24", resolver=False)
        n, r = self.attach(h1, quiet, "silent", name="silent")
        self.assertNotIn("127.0.0.11", r.get("dns", {}).get("nameservers", []), r)
        record = json.loads(self.consul.kv_get(f"{PREFIX}/attachments/quiet/h1/silent/eth0"))
        self.assertNotIn("names", record)
        def veths():
            return {l["ifname"] for l in json.loads(self.t.run(h1, "ip", "-j", "link").stdout)
                    if l["ifname"].startswith("ovv")}
        before = veths()
        for args, rc_conf, field in (("K8S_POD_NAME=bad/name", OVER, "K8S_POD_NAME"),
                                     ("", dict(OVER, runtimeConfig={"aliases": {"over": ["-dash"]}}), "aliases.over"),
                                     ("", dict(OVER, runtimeConfig={"aliases": {"over": "x"}}), "aliases")):
            netns = self.t.add_container(h1, "bad" + str(len(args)) + str(len(field)))
            rc, res, out, err = self.plugin(h1, "ADD", rc_conf, "badname", netns, "eth0", args)
            self.assertNotEqual(rc, 0)
            self.assertEqual(res["code"], 7, out)
            self.assertIn(field, res["msg"])
            self.assertEqual(veths(), before, "a refused ADD left a veth")
            self.assertFalse(self.consul.kv_keys(f"{PREFIX}/attachments/over/h1/badname/"))

    def test_8_a_flooding_container_does_not_starve_another(self):
        """One container floods 600 queries its upstream never answers; each container has its own share of
        the pending forwards, so the excess gets SERVFAIL at once and another container's outside name is
        still relayed and answered meanwhile."""
        h1, _ = self.hosts
        calm, _ = self.attach(h1, OVER, "calm", name="calm")
        noisy, rn = self.attach(h1, OVER, "noisy", name="noisy")
        p = self.t.popen(noisy, "python3", "-c", FLOOD, "600", stdout=subprocess.PIPE, text=True)
        self.assertEqual(p.stdout.readline().strip(), "sent")
        # Within the resolver's forward timeout (2 s) of the flood: the noisy share is still pending.
        self.assertEqual(self.query(calm, "outside.example"), ("NOERROR", ["203.0.113.80"]), self.resolver_log(h1))
        self.assertEqual(self.query(calm, "noisy"), ("NOERROR", [self.ip_of(rn)]))
        rcodes = json.loads(p.stdout.readline().replace("'", '"'))
        p.wait(timeout=10)
        # All but the noisy container's share were refused at once: the flood did reach its cap.
        self.assertGreaterEqual(rcodes.get("2", 0), 400, rcodes)
        self.assertIsNone(self.resolvers["h1"].poll(), self.resolver_log(h1))

    def test_8b_out_of_descriptors_it_waits_instead_of_spinning(self):
        """With its open-file limit reached, pending hand-overs wait in the listen backlog: the resolver neither
        spins on the readable socket nor drops them, and takes them once descriptors are free again."""
        _, h2 = self.hosts
        self.stop_resolver(h2)
        self.addCleanup(self.start_resolver, h2)
        self.addCleanup(lambda: self.stop_resolver(h2) if h2.name in self.resolvers else None)
        proc = self.start_resolver(h2, wrap=("prlimit", "--nofile=24:24"))
        [sock] = glob.glob(os.path.join(self.t.tmpdir, f"st-{h2.name}", "ns-*", "resolver.sock"))
        conns = []
        try:
            for _ in range(40):  # more than the limit leaves: the rest wait in the backlog
                c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                c.connect(sock)  # the socket file is reachable from here: only the netns differs
                conns.append(c)
            deadline = time.monotonic() + scaled(5)
            while "trying again every" not in self.resolver_log(h2):
                self.assertLess(time.monotonic(), deadline, "the resolver never ran out of descriptors")
                time.sleep(0.02)
            before = cpu_seconds(proc.pid)
            time.sleep(1.0)  # an observation window, not a wait for something
            spent = cpu_seconds(proc.pid) - before
            self.assertLess(spent, 0.3, f"the resolver used {spent:.2f} s of CPU in 1 s while out of descriptors")
        finally:
            for c in conns:
                c.close()
        deadline = time.monotonic() + scaled(5)
        while "accepting containers' hand-overs again" not in self.resolver_log(h2):
            self.assertLess(time.monotonic(), deadline, "the resolver did not resume accepting")
            time.sleep(0.02)
        self.assertIsNone(proc.poll(), self.resolver_log(h2))

    def test_8c_names_come_from_the_watchers_listings_while_it_runs(self):
        """The watcher hands the attachment listings it receives to the resolver beside it (one blocking query
        per host and network instead of two): a resolver whose store address answers nothing still learns a
        name added on another host, through its watcher. When the watcher is killed outright the resolver
        sees its connection close and follows the store itself again."""
        h1, h2 = self.hosts
        n1, _ = self.attach(h1, OVER, "share1", name="share1")
        with open(self.node_cfg[h1.name]) as f:
            blind_cfg = json.load(f)
        blind_cfg["store"] = "http://198.51.100.250:8500"  # on the underlay, and nobody there
        blind = os.path.join(self.t.tmpdir, "node-h1-blind.json")
        with open(blind, "w") as f:
            json.dump(blind_cfg, f)
        def log_size():
            return os.path.getsize(os.path.join(self.t.tmpdir, f"resolver-{h1.name}.log"))

        def log_since(offset):
            with open(os.path.join(self.t.tmpdir, f"resolver-{h1.name}.log")) as f:
                f.seek(offset)
                return f.read()

        shared = "names of 'over' from overlay watch's listings"
        self.stop_resolver(h1)
        try:
            mark = log_size()
            self.start_resolver(h1, env={"OVL_NODE_CONFIG": blind})
            _, r = self.attach(h2, OVER, "viawatcher", name="viawatcher")
            self.assertIsNotNone(self.wait_rcode(n1, "viawatcher", "NOERROR", 3),
                                 "the name did not reach h1's resolver through h1's watcher: " + self.resolver_log(h1))
            self.assertEqual(self.query(n1, "viawatcher"), ("NOERROR", [self.ip_of(r)]))
            self.assertIn(shared, log_since(mark))
        finally:
            self.stop_resolver(h1)
            self.start_resolver(h1)
        mark = log_size()
        watcher = self.watchers.pop(h1.name)
        watcher.kill()
        watcher.wait(timeout=10)
        try:
            deadline = time.monotonic() + scaled(2)
            while f"names of {PREFIX}/attachments/over/ from the store" not in log_since(mark):
                self.assertLess(time.monotonic(), deadline, "h1's resolver did not notice its watcher was killed: " +
                                log_since(mark))
                time.sleep(0.02)
            _, r = self.attach(h2, OVER, "afterkill", name="afterkill")
            self.assertIsNotNone(self.wait_rcode(n1, "afterkill", "NOERROR", 2),
                                 "h1's resolver did not follow the store once its watcher was gone: " + log_since(mark))
        finally:
            mark = log_size()
            self.start_watcher(h1)
        # The new watcher shares again; stopped cleanly, it leaves no socket (checked in test_9).
        deadline = time.monotonic() + scaled(10)
        while shared not in log_since(mark):
            self.assertLess(time.monotonic(), deadline, "h1's new watcher never shared its listing")
            time.sleep(0.05)

    def test_9_nothing_left(self):
        # Runs last: every container above was deleted by its test's cleanups.
        for h in self.hosts:
            links = [l["ifname"] for l in json.loads(self.t.run(h, "ip", "-j", "link").stdout)
                     if l["ifname"].startswith(("ovv", "ovbr", "ovx"))]
            self.assertEqual(links, [], h.name)
        self.assertEqual(self.consul.kv_keys(f"{PREFIX}/attachments/"), [])
        self.assertTrue(all(p.poll() is None for p in self.resolvers.values()))
        for h in self.hosts:  # a watcher that stops takes its end of the listing link with it
            w = self.watchers.pop(h.name)
            w.terminate()
            w.wait(timeout=10)
            self.assertEqual(glob.glob(os.path.join(self.t.tmpdir, f"st-{h.name}", "ns-*", "listings.sock")), [],
                             h.name)


if __name__ == "__main__":
    unittest.main()
