"""End-to-end: hostile tenants (issue 16). A container, a network config or a stranger tries to get at the
hosts; none of them may.

Topology (network namespaces only): a Consul host cs (198.51.100.10), hosts h1 and h2 (198.51.100.11-12)
running the overlay+gwbridge chain with the Consul store, a router and an "internet" host 203.0.113.1.
Containers are empty namespaces; hostile programs inside them are small Python scripts.
"""

import json
import os
import time
import unittest

from ovltest.chain import run_chain
from ovltest.consul import ConsulServer
from ovltest.netns import Topology
from ovltest.plugins import find_binary

PY = "/usr/bin/python3"
NET = "hostile"
SUBNET = "10.77.0.0/24"

# A router advertisement (default router for 1800 s, prefix 2001:db8:bad::/64 for SLAAC) sent as a raw
# Ethernet frame from a made-up link-local address, so it needs nothing from the container's own IPv6.
RA_SENDER = r"""
import socket, struct, sys, time
ifname, count = sys.argv[1], int(sys.argv[2])
mac = bytes.fromhex("02badbadbad1")
src = socket.inet_pton(socket.AF_INET6, "fe80::bad:1")
dst = socket.inet_pton(socket.AF_INET6, "ff02::1")
ra = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0)
sll = struct.pack("!BB", 1, 1) + mac
pio = struct.pack("!BBBBIII", 3, 4, 64, 0xC0, 86400, 14400, 0) + socket.inet_pton(socket.AF_INET6, "2001:db8:bad::")
body = ra + sll + pio
pseudo = src + dst + struct.pack("!I3xB", len(body), 58) + body
if len(pseudo) % 2:
    pseudo += b"\0"
s = sum(struct.unpack(f"!{len(pseudo) // 2}H", pseudo))
while s >> 16:
    s = (s & 0xFFFF) + (s >> 16)
body = body[:2] + struct.pack("!H", ~s & 0xFFFF) + body[4:]
ip6 = struct.pack("!IHBB", 6 << 28, len(body), 58, 255) + src + dst
frame = bytes.fromhex("333300000001") + mac + b"\x86\xdd" + ip6 + body
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((ifname, 0))
for _ in range(count):
    sock.send(frame)
    time.sleep(0.1)
"""


class Env:
    """The cluster shared by the tests of this module."""

    def __init__(self):
        self.t = Topology()
        self.t.start()
        try:
            self.cs = self.t.add_host("cs", "198.51.100.10/24")
            self.h1 = self.t.add_host("h1", "198.51.100.11/24")
            self.h2 = self.t.add_host("h2", "198.51.100.12/24")
            self.hosts = (self.h1, self.h2)
            self.inet = self.t.add_internet("203.0.113.1/24")
            self.consul = ConsulServer(self.t, self.cs, "198.51.100.10")
            tmp = self.t.tmpdir
            self.ra_py = self.script("ra.py", RA_SENDER)
            self.node_cfg = {}
            for h in self.hosts:
                self.node_cfg[h.name] = self.write_node_config(h, {})
                # The watcher keeps flood lists in step, so a container's broadcast reaches every member.
                log = open(os.path.join(tmp, f"watch-{h.name}.log"), "w")
                self.t.popen(h, find_binary("overlay"), "watch", env=self.env(h), stdout=log, stderr=log)
                log.close()
        except BaseException:
            self.t.cleanup()
            raise

    def close(self):
        self.t.cleanup()

    def script(self, name, text):
        path = os.path.join(self.t.tmpdir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def write_node_config(self, host, extra, name=None):
        path = os.path.join(self.t.tmpdir, name or f"node-{host.name}.json")
        cfg = {"store": self.consul.store_url, "hostName": host.name, "advertise": "eth0",
               "stateDir": os.path.join(self.t.tmpdir, "state")}
        cfg.update(extra)
        with open(path, "w") as f:
            json.dump(cfg, f)
        os.chmod(path, 0o600)
        return path

    def env(self, host):
        return {"OVL_NODE_CONFIG": self.node_cfg[host.name]}

    def conflist(self, gwbridge=True, ports=False):
        plugins = [{"type": "overlay", "ipam": {"type": "overlay-ipam", "subnet": SUBNET, "store": "consul"}}]
        if gwbridge:
            gw = {"type": "gwbridge"}
            if ports:
                gw["capabilities"] = {"portMappings": True}
            plugins.append(gw)
        return {"cniVersion": "1.0.0", "name": NET, "plugins": plugins}

    def gw_data_dir(self, host):
        return os.path.join(self.t.tmpdir, f"gw-{host.name}")

    def chain(self, host, command, cl, cid, netns, runtime=None, prev=None):
        return run_chain(self.t, host, cl, command, cid, netns, runtime=runtime, prev=prev,
                         extra_env=self.env(host), gw_data_dir=self.gw_data_dir(host))

    # --- kernel state --------------------------------------------------------------------------------
    def ipj(self, ns, *args):
        out = self.t.run(ns, "ip", "-j", *args, check=False).stdout.strip()
        return json.loads(out) if out else []

    def v6_settled(self, host, timeout=5.0):
        """Waits until the underlay's link-local address has finished DAD (about a second after the harness
        makes it; that adds a local route)."""
        deadline = time.monotonic() + timeout
        while self.t.run(host, "ip", "-6", "addr", "show", "dev", host.ifname, "tentative").stdout.strip():
            if time.monotonic() > deadline:
                raise AssertionError(f"IPv6 addresses of {host.name} still tentative")
            time.sleep(0.1)

    def v6_state(self, host):
        """IPv6 routes (without the counting-down "expires") and addresses of a host."""
        routes = sorted(json.dumps({k: v for k, v in r.items() if k != "expires"}, sort_keys=True)
                        for r in self.ipj(host, "-6", "route", "show", "table", "all"))
        addrs = sorted((a["ifname"], i["local"]) for a in self.ipj(host, "-6", "addr", "show")
                       for i in a.get("addr_info", []))
        return routes, addrs

    def addresses(self, host, dev):
        return [i["local"] for a in self.ipj(host, "addr", "show", "dev", dev) for i in a.get("addr_info", [])]

    def sysctl(self, host, dev, key):
        return self.t.run(host, "cat", f"/proc/sys/net/ipv6/conf/{dev}/{key}").stdout.strip()

    def set_sysctl(self, host, dev, key, value):
        self.t.run(host, "sh", "-c", f"echo {value} > /proc/sys/net/ipv6/conf/{dev}/{key}")

    def bridge_ports(self, host, bridge):
        return [l["ifname"] for l in self.ipj(host, "link", "show", "master", bridge)]


E = None


def setUpModule():
    global E
    for b in ("overlay", "overlay-ipam", "gwbridge"):
        find_binary(b)
    E = Env()


def tearDownModule():
    if E:
        E.close()


class HostileTest(unittest.TestCase):
    maxDiff = None

    def attach(self, host, name, cl=None, runtime=None):
        """A container with the chain added; DEL'd at cleanup. Returns (cid, netns, result)."""
        cl = cl or E.conflist()
        netns = E.t.add_container(host, name)
        cid = f"{name}-{E.t.prefix}"
        res = E.chain(host, "ADD", cl, cid, netns, runtime=runtime)
        self.addCleanup(E.chain, host, "DEL", cl, cid, "", prev=res)
        return cid, netns, res

    @staticmethod
    def in_container(res):
        return [i["name"] for i in res["interfaces"] if i.get("sandbox")]

    @staticmethod
    def host_devices(res):
        return [i["name"] for i in res["interfaces"] if not i.get("sandbox")]

    # --- item 1: a container's router advertisement -------------------------------------------------
    def test_router_advertisement_from_a_container_changes_no_host(self):
        _, na, ra = self.attach(E.h1, "ra-a")
        _, nb, rb = self.attach(E.h2, "ra-b")
        bridge = ra["interfaces"][0]["name"]
        self.assertTrue(bridge.startswith("ovbr-"), ra["interfaces"])
        vxlan = "ovx-" + bridge[len("ovbr-"):]
        for h in E.hosts:
            E.v6_settled(h)
        before = {h.name: E.v6_state(h) for h in E.hosts}
        b_before = E.ipj(nb, "-6", "route", "show", "default")
        for ifname in self.in_container(ra):  # the overlay interface and the gateway bridge's
            E.t.run(na, PY, E.ra_py, ifname, 5)
        time.sleep(1.0)
        # The advertisement did cross the overlay: container b (IPv6 defaults) took it.
        self.assertNotEqual(E.ipj(nb, "-6", "route", "show", "default"), b_before,
                            "the router advertisement never reached the other host's container")
        problems = []  # every host's, so a failure shows the cross-host reach
        for h in E.hosts:
            routes, addrs = E.v6_state(h)
            problems += [f"{h.name}: new route {r}" for r in set(routes) - set(before[h.name][0])]
            problems += [f"{h.name}: new address {a}" for a in set(addrs) - set(before[h.name][1])]
            problems += [f"{h.name}: address {a} on {dev}" for dev in (bridge, vxlan) for a in E.addresses(h, dev)]
        self.assertEqual(problems, [])
        for h in E.hosts:
            self.assertEqual(E.ipj(h, "-6", "route", "show", "default"), [], f"{h.name} has an IPv6 default route")
        # Host ends of the veths and the gateway bridge: no IPv6 address at all.
        for dev in self.host_devices(ra)[1:] + E.bridge_ports(E.h1, bridge):
            self.assertEqual([a for a in E.addresses(E.h1, dev) if ":" in a], [], f"{dev} has an IPv6 address")

    def test_devices_of_an_older_version_are_fixed_on_the_next_add(self):
        _, na, ra = self.attach(E.h1, "old-a")
        bridge, gwbridge = ra["interfaces"][0]["name"], "cni_gwbridge"
        ports = E.bridge_ports(E.h1, bridge) + E.bridge_ports(E.h1, gwbridge)
        # What an older version left: kernel defaults, and a link-local address from a link flap.
        for dev in [bridge, gwbridge] + ports:
            E.set_sysctl(E.h1, dev, "disable_ipv6", 0)
            E.set_sysctl(E.h1, dev, "addr_gen_mode", 0)
            E.set_sysctl(E.h1, dev, "accept_ra", 1)
            E.t.run(E.h1, "ip", "link", "set", dev, "down")
            E.t.run(E.h1, "ip", "link", "set", dev, "up")
        deadline = time.monotonic() + 3
        while not any(a.startswith("fe80") for a in E.addresses(E.h1, bridge)):
            self.assertLess(time.monotonic(), deadline, "no link-local address appeared on the flapped bridge")
            time.sleep(0.1)
        _, _, rb = self.attach(E.h1, "old-b")
        for dev in [bridge, gwbridge] + ports:
            self.assertEqual([a for a in E.addresses(E.h1, dev) if ":" in a], [], f"{dev} kept an IPv6 address")
            self.assertEqual(E.sysctl(E.h1, dev, "accept_ra"), "0", dev)
            self.assertEqual(E.sysctl(E.h1, dev, "addr_gen_mode"), "1", dev)
        for dev in [bridge] + E.bridge_ports(E.h1, bridge):
            self.assertEqual(E.sysctl(E.h1, dev, "disable_ipv6"), "1", dev)
        # Containers keep working across the fix.
        self.assertTrue(E.t.ping(na, rb["ips"][0]["address"].split("/")[0], count=1, timeout=2))


if __name__ == "__main__":
    unittest.main()
