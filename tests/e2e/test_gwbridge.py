"""End-to-end: the gwbridge plugin (issue 5), the role of Docker's docker_gwbridge.

Topology (network namespaces only; the root namespace is never touched): hosts h1 and h2 on the underlay
switch (198.51.100.0/24), a router at 198.51.100.254 and an "internet" host 203.0.113.1 behind it.
Containers are empty namespaces; gwbridge runs inside the host namespaces. The IPAM is overlay-ipam with
the local file store, its data in the test's temporary directory (one per host); test_default_ipam also
covers the built-in default section.

Servers and clients are small Python programs (netprogs.py; servers answer "<tag> <peer address>"), so each
check also tells from which address a connection arrived.
"""

import json
import os
import re
import shutil
import subprocess
import time
import unittest

from netprogs import CLIENT, SERVER
from ovltest.faults import nft_elements, nft_rules
from ovltest.netns import Topology
from ovltest.plugins import find_binary, run_plugin
from ovltest.timing import scaled

PY = "/usr/bin/python3"
BRIDGE = "cni_gwbridge"
SUBNET = "172.18.0.0/16"
GATEWAY = "172.18.0.1"
ICC_SUBNET = "10.93.0.0/24"
ICC_GATEWAY = "10.93.0.1"
VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]

class Env:
    """The topology and helpers shared by the tests of this module."""

    def __init__(self):
        self.t = Topology()
        self.t.start()
        try:
            self.h1 = self.t.add_host("h1", "198.51.100.1/24")
            self.h2 = self.t.add_host("h2", "198.51.100.2/24")
            self.inet = self.t.add_internet("203.0.113.1/24")
            tmp = self.t.tmpdir
            self.server_py = os.path.join(tmp, "server.py")
            self.client_py = os.path.join(tmp, "client.py")
            with open(self.server_py, "w") as f:
                f.write(SERVER)
            with open(self.client_py, "w") as f:
                f.write(CLIENT)
            self.node_cfg = {}
            for h in (self.h1, self.h2):
                path = os.path.join(tmp, f"node-{h.name}.json")
                with open(path, "w") as f:
                    json.dump({"hostName": h.name, "stateDir": os.path.join(tmp, f"state-{h.name}")}, f)
                self.node_cfg[h.name] = path
            self.serve(self.inet.ns, "inet", "tcp:7000", "udp:7001")
        except BaseException:
            self.t.cleanup()
            raise

    def close(self):
        self.t.cleanup()

    # --- configuration -------------------------------------------------------------------------------
    def data_dir(self, host):
        return os.path.join(self.t.tmpdir, f"ipam-{host.name}")

    def conf(self, name, host, version="1.0.0", ports=None, **extra):
        c = {"cniVersion": version, "name": name, "type": "gwbridge",
             "ipam": {"type": "overlay-ipam", "subnet": SUBNET, "pool": BRIDGE, "store": "local",
                      "dataDir": self.data_dir(host)}}
        if ports is not None:
            c["capabilities"] = {"portMappings": True}
            c["runtimeConfig"] = {"portMappings": ports}
        c.update(extra)
        return c

    # --- plugin calls --------------------------------------------------------------------------------
    def plugin(self, host, command, conf, cid, netns, ifname="eth0", check=True, prev=None, binary="gwbridge",
               args=""):
        if prev is not None:
            conf = dict(conf, prevResult=prev)
        rc, res, out, err = run_plugin(self.t, host, binary, command, conf, cid, netns, ifname, cni_args=args,
                                       extra_env={"OVL_NODE_CONFIG": self.node_cfg[host.name]})
        if check and rc != 0:
            raise AssertionError(f"{binary} {command} {cid} on {host.name} failed rc={rc}: {out} {err[-2000:]}")
        return rc, res, out, err

    def add(self, host, conf, cid, netns, ifname="eth0"):
        return self.plugin(host, "ADD", conf, cid, netns, ifname)[1]

    def delete(self, host, conf, cid, netns="", ifname="eth0", prev=None):
        self.plugin(host, "DEL", conf, cid, netns, ifname, prev=prev)

    # --- processes -----------------------------------------------------------------------------------
    def serve(self, ns, tag, *specs):
        ready = os.path.join(self.t.tmpdir, f"ready-{tag}-{time.monotonic_ns()}")
        p = self.t.popen(ns, PY, self.server_py, tag, ready, *specs)
        deadline = time.monotonic() + scaled(10)
        while not os.path.exists(ready):
            if p.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server {tag} in {ns} did not start")
            time.sleep(0.02)
        return p

    def stop(self, p):
        p.terminate()
        p.wait(timeout=5)

    def connect(self, ns, proto, host, port, timeout=2.0):
        """The server's answer ("<tag> <peer>"), or None."""
        p = self.t.run(ns, PY, self.client_py, proto, host, port, timeout, check=False, timeout=timeout + 10)
        return p.stdout.strip() if p.returncode == 0 else None

    # --- kernel state --------------------------------------------------------------------------------
    def rule_comments(self, host):
        """Comments of every rule and every map/set element in both of gwbridge's tables on host: an
        attachment's port mappings ("ovl:<network>:<cid>:<ifname>"), a bridge's rules ("ovl-br:<bridge>")."""
        return ([r.get("comment", "") for r in nft_rules(self.t, host)
                 if r["table"] == "ovl_gwbridge" and r["family"] in ("inet", "bridge")]
                + [c for f, t, _, c in nft_elements(self.t, host) if t == "ovl_gwbridge"])

    def icc_conf(self, name, host, **extra):
        """A network with icc=true on its own bridge and subnet (networks on one bridge agree on icc)."""
        return self.conf(name, host, icc=True, bridge="gwicc",
                         ipam={"type": "overlay-ipam", "subnet": ICC_SUBNET, "pool": "gwicc", "store": "local",
                               "dataDir": self.data_dir(host)}, **extra)

    def leases(self, host, data_dir=None):
        """Lease files (named by address) under the host's IPAM data directory."""
        found = []
        for root, _, files in os.walk(data_dir or self.data_dir(host)):
            found += [f for f in files if re.fullmatch(r"\d+\.\d+\.\d+\.\d+|[0-9a-f:]+", f) and "." in f]
        return found

    def links(self, ns):
        return json.loads(self.t.run(ns, "ip", "-j", "link", "show").stdout)

    def gw_veths(self, host):
        return [l["ifname"] for l in self.links(host) if l["ifname"].startswith("gwb")]

    def addr(self, netns, ifname):
        out = self.t.run(netns, "ip", "-4", "-o", "addr", "show", "dev", ifname).stdout
        return re.search(r"inet (\S+)/", out).group(1)

    def routes(self, netns):
        return json.loads(self.t.run(netns, "ip", "-j", "route", "show").stdout)

    def ping(self, ns, ip):
        return self.t.ping(ns, ip, count=1, timeout=1)


E = None


def setUpModule():
    global E
    for b in ("gwbridge", "overlay-ipam"):
        find_binary(b)
    E = Env()


def tearDownModule():
    if E:
        E.close()


class GwbridgeTest(unittest.TestCase):
    def setUp(self):
        self.cleanups = []  # (host, conf, cid, netns, ifname)

    def tearDown(self):
        for host, conf, cid, netns, ifname in reversed(self.cleanups):
            E.plugin(host, "DEL", conf, cid, "", ifname)  # a failing DEL fails the test (DEL must succeed)
        for host in (E.h1, E.h2):
            self.assertEqual([c for c in E.rule_comments(host) if c.startswith("ovl")], [],
                             f"rules left on {host.name}")
            self.assertEqual(E.leases(host), [], f"leases left on {host.name}")

    def container(self, host, name, conf, ifname="eth0"):
        """A container namespace with gwbridge added; DEL'd at tearDown."""
        netns = E.t.add_container(host, name)
        cid = f"{name}-{E.t.prefix}"
        res = E.add(host, conf, cid, netns, ifname)
        self.cleanups.append((host, conf, cid, netns, ifname))
        return cid, netns, res

    # ------------------------------------------------------------------------------------------------
    def test_outbound_nat_to_the_internet(self):
        conf = E.conf("gwa", E.h1)
        cid, netns, res = self.container(E.h1, "out1", conf)
        self.assertEqual(res["ips"][0]["gateway"], GATEWAY)
        self.assertTrue(res["ips"][0]["address"].startswith("172.18."))
        default = [r for r in E.routes(netns) if r["dst"] == "default"]
        self.assertEqual([(r["gateway"], r["dev"]) for r in default], [(GATEWAY, "eth0")])
        # Arrives at the internet host from h1's underlay address, not the container's.
        self.assertEqual(E.connect(netns, "tcp", "203.0.113.1", 7000), f"inet {E.h1.ip}")
        self.assertEqual(E.connect(netns, "udp", "203.0.113.1", 7001), f"inet {E.h1.ip}")
        self.assertEqual(E.t.run(E.h1, "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip(), "1")

    def test_port_mappings_tcp_udp_from_other_host_itself_and_hairpin(self):
        ports = [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},                  # podman
                 {"HostPort": 5353, "ContainerPort": 53, "Protocol": "UDP", "HostIP": ""},    # containerd CRI
                 {"hostPort": 8081, "containerPort": 80, "hostIP": E.h1.ip},
                 {"hostPort": 9999, "containerPort": 99, "protocol": "sctp"}]
        conf = E.conf("gwa", E.h1, ports=ports)
        cid, netns, res = self.container(E.h1, "pm1", conf)
        # (This kernel has no SCTP sockets to test with; the rule is there.)
        self.assertIn(f'sctp . 9999 comment "ovl:gwa:{cid}:eth0" : {res["ips"][0]["address"].split("/")[0]} . 99',
                      E.t.run(E.h1, "nft", "list", "table", "inet", "ovl_gwbridge").stdout)
        cip = res["ips"][0]["address"].split("/")[0]
        srv = E.serve(netns, "pm1", "tcp:80", "udp:53")
        try:
            # From another host: the client's own address is preserved.
            self.assertEqual(E.connect(E.h2.ns, "tcp", E.h1.ip, 8080), f"pm1 {E.h2.ip}")
            self.assertEqual(E.connect(E.h2.ns, "udp", E.h1.ip, 5353), f"pm1 {E.h2.ip}")
            self.assertEqual(E.connect(E.h2.ns, "tcp", E.h1.ip, 8081), f"pm1 {E.h2.ip}")
            # From h1 itself, at its underlay address.
            self.assertEqual(E.connect(E.h1.ns, "tcp", E.h1.ip, 8080), f"pm1 {E.h1.ip}")
            self.assertEqual(E.connect(E.h1.ns, "udp", E.h1.ip, 5353), f"pm1 {E.h1.ip}")
            # Hairpin: the container reaches its own published port through the host.
            self.assertEqual(E.connect(netns, "tcp", E.h1.ip, 8080), f"pm1 {GATEWAY}")
            self.assertEqual(E.connect(netns, "udp", E.h1.ip, 5353), f"pm1 {GATEWAY}")
            # The container's address itself is not reachable from other hosts.
            self.assertIsNone(E.connect(E.h2.ns, "tcp", cip, 80, timeout=0.5))
            # conntrack holds the UDP flow to the mapped port ...
            ct = E.t.run(E.h1, "conntrack", "-L", "-p", "udp", "--orig-port-dst", "5353", check=False)
            self.assertIn("dport=5353", ct.stdout + ct.stderr)
            E.delete(E.h1, conf, cid, netns, prev=res)
            self.cleanups.pop()
            # ... and DEL removed it with the rules: the port is closed again.
            ct = E.t.run(E.h1, "conntrack", "-L", "-p", "udp", "--orig-port-dst", "5353", check=False)
            self.assertNotIn("dport=5353", ct.stdout)
            self.assertIsNone(E.connect(E.h2.ns, "tcp", E.h1.ip, 8080, timeout=0.5))
        finally:
            E.stop(srv)

    def test_published_port_on_localhost_and_no_way_into_the_hosts_loopback(self):
        """-p 8080:80 answers on 127.0.0.1 of the host (as Docker and portmap with snat do): route_localnet on
        the bridge, masquerade to the gateway. That setting must not let a container reach the host's loopback
        services through the gateway: the localnet chain drops loopback addresses arriving from the bridge."""
        ports = [{"hostPort": 8086, "containerPort": 80}, {"hostPort": 5356, "containerPort": 53, "protocol": "udp"}]
        conf = E.conf("gwa", E.h1, ports=ports)
        cid, netns, res = self.container(E.h1, "lo1", conf)
        srv = E.serve(netns, "lo1", "tcp:80", "udp:53")
        host_srv = E.serve(E.h1.ns, "hostlo", "tcp:7777")
        try:
            self.assertEqual(E.connect(E.h1.ns, "tcp", "127.0.0.1", 8086), f"lo1 {GATEWAY}")
            self.assertEqual(E.connect(E.h1.ns, "udp", "127.0.0.1", 5356), f"lo1 {GATEWAY}")
            self.assertEqual(E.t.run(E.h1, "sysctl", "-n", f"net.ipv4.conf.{BRIDGE}.route_localnet").stdout.strip(), "1")
            E.plugin(E.h1, "CHECK", conf, cid, netns, prev=res)
            # A container that routes 127.0.0.0/8 to the gateway does not reach the host's 127.0.0.1:7777.
            E.t.run(netns, "ip", "route", "del", "local", "127.0.0.0/8", "dev", "lo", "table", "local")
            E.t.run(netns, "sysctl", "-qw", "net.ipv4.conf.eth0.route_localnet=1", "net.ipv4.conf.all.route_localnet=1")
            E.t.run(netns, "ip", "route", "add", "127.0.0.2/32", "via", GATEWAY, "dev", "eth0")
            self.assertIsNone(E.connect(netns, "tcp", "127.0.0.2", 7777, timeout=0.5))
            # (Without the guard it would: the check above can fail.)
            handles = [r for r in E.t.run(E.h1, "nft", "-a", "list", "chain", "inet", "ovl_gwbridge", "localnet").stdout.splitlines()
                       if "127.0.0.0/8 drop" in r]
            self.assertEqual(len(handles), 2)
            for r in handles:
                E.t.run(E.h1, "nft", "delete", "rule", "inet", "ovl_gwbridge", "localnet", "handle", r.split()[-1])
            cip = res["ips"][0]["address"].split("/")[0]
            self.assertEqual(E.connect(netns, "tcp", "127.0.0.2", 7777), f"hostlo {cip}")
        finally:
            E.stop(srv)
            E.stop(host_srv)

    def test_published_port_from_another_container_on_the_host(self):
        """The documented limit (README, gwbridge): with icc=false another container on the same host does not
        reach a published port through the host's address (br_netfilter switches the DNAT-ed frame between the
        two ports, where the isolation filter drops it); with icc=true it does."""
        for icc, port in ((False, 8091), (True, 8092)):
            with self.subTest(icc=icc):
                ports = [{"hostPort": port, "containerPort": 80}]
                conf = E.icc_conf("gwc", E.h1, ports=ports) if icc else E.conf("gwa", E.h1, ports=ports)
                _, netns, _ = self.container(E.h1, f"pub{port}", conf)
                _, other, ro = self.container(E.h1, f"cli{port}", E.icc_conf("gwc", E.h1) if icc else E.conf("gwa", E.h1))
                srv = E.serve(netns, f"pub{port}", "tcp:80")
                try:
                    got = E.connect(other, "tcp", E.h1.ip, port, timeout=1.0)
                    self.assertEqual(got, f"pub{port} {ICC_GATEWAY}" if icc else None)
                    self.assertEqual(E.connect(E.h2.ns, "tcp", E.h1.ip, port), f"pub{port} {E.h2.ip}")
                finally:
                    E.stop(srv)

    def test_stale_udp_conntrack_entry_is_flushed_on_add(self):
        # A UDP "flow" to the host port recorded before the mapping exists would keep bypassing the DNAT.
        # (The kernel tracks connections in h1 once some rule needs conntrack: another container's masquerade.)
        self.container(E.h1, "ct0", E.conf("gwa", E.h1))
        sender = E.t.popen(E.h2.ns, PY, "-c",
                           "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                           "s.bind(('0.0.0.0',40000))\n"
                           f"while True:\n s.sendto(b'x',('{E.h1.ip}',5454)); time.sleep(0.1)\n")
        try:
            deadline = time.monotonic() + scaled(5)
            while "dport=5454" not in E.t.run(E.h1, "conntrack", "-L", "-p", "udp", check=False).stdout:
                self.assertLess(time.monotonic(), deadline, "no conntrack entry for the UDP flow")
                time.sleep(0.1)
            conf = E.conf("gwa", E.h1, ports=[{"hostPort": 5454, "containerPort": 54, "protocol": "udp"}])
            cid, netns, res = self.container(E.h1, "ct1", conf)
            cip = res["ips"][0]["address"].split("/")[0]
            # The flow's next packet starts a new entry that is DNAT'ed to the container.
            deadline = time.monotonic() + scaled(5)
            while f"src={cip}" not in E.t.run(E.h1, "conntrack", "-L", "-p", "udp", check=False).stdout:
                self.assertLess(time.monotonic(), deadline, "the UDP flow was not re-NATed to the container")
                time.sleep(0.1)
        finally:
            E.stop(sender)

    def test_isolation_between_containers_and_networks(self):
        a1, na1, ra1 = self.container(E.h1, "iso-a1", E.conf("gwa", E.h1))
        a2, na2, ra2 = self.container(E.h1, "iso-a2", E.conf("gwa", E.h1))
        b1, nb1, rb1 = self.container(E.h1, "iso-b1", E.conf("gwb", E.h1))
        ips = [r["ips"][0]["address"].split("/")[0] for r in (ra1, ra2, rb1)]
        self.assertEqual(len(set(ips)), 3, "networks sharing the bridge share its address pool")
        srv = E.serve(nb1, "b1", "tcp:80")
        try:
            for ns in (na1, na2, nb1):
                self.assertTrue(E.ping(ns, GATEWAY))
            self.assertFalse(E.ping(na1, ips[2]), "two networks sharing the bridge can talk")
            self.assertFalse(E.ping(na1, ips[1]), "icc=false containers can talk")
            self.assertFalse(E.ping(nb1, ips[0]))
            self.assertIsNone(E.connect(na1, "tcp", ips[2], 80, timeout=0.5))
            # Everyone still reaches the outside.
            self.assertEqual(E.connect(nb1, "tcp", "203.0.113.1", 7000), f"inet {E.h1.ip}")
        finally:
            E.stop(srv)
        # A network with icc=true cannot share the icc=false bridge: refused, nothing made.
        netns = E.t.add_container(E.h1, "icc-bad")
        _, err, _, _ = E.plugin(E.h1, "ADD", E.conf("gwc", E.h1, icc=True), f"icc-bad-{E.t.prefix}", netns,
                                 check=False)
        self.assertEqual(err["code"], 7, err)
        self.assertIn(f"field 'icc' is true here but false on bridge '{BRIDGE}'", err["msg"])
        self.assertEqual(len(E.leases(E.h1)), 3)
        self.assertEqual(len(E.gw_veths(E.h1)), 3)
        # icc=true containers (on their own bridge) talk to each other, not to icc=false ones.
        c1, nc1, rc1 = self.container(E.h1, "icc-c1", E.icc_conf("gwc", E.h1))
        c2, nc2, rc2 = self.container(E.h1, "icc-c2", E.icc_conf("gwc", E.h1))
        self.assertTrue(E.ping(nc1, rc2["ips"][0]["address"].split("/")[0]))
        self.assertFalse(E.ping(nc1, ips[0]))

    def test_forward_filter_follows_the_attachments_of_each_bridge(self):
        # Two networks share bridge gwf1, a third has gwf2; h2 routes both subnets through h1.
        def conf(name, bridge, subnet):
            return dict(E.conf(name, E.h1), bridge=bridge,
                        ipam={"type": "overlay-ipam", "subnet": subnet, "pool": bridge, "store": "local",
                              "dataDir": E.data_dir(E.h1)})
        ca, cb, cc = conf("gwfa", "gwf1", "10.91.0.0/24"), conf("gwfb", "gwf1", "10.91.0.0/24"), \
            conf("gwfc", "gwf2", "10.92.0.0/24")
        a, na, ra = self.container(E.h1, "fwa", ca)
        b, nb, rb = self.container(E.h1, "fwb", cb)
        c, nc, rc = self.container(E.h1, "fwc", cc)
        bip, cip = (r["ips"][0]["address"].split("/")[0] for r in (rb, rc))
        for subnet in ("10.91.0.0/24", "10.92.0.0/24"):
            E.t.run(E.h2, "ip", "route", "replace", subnet, "via", E.h1.ip)
            self.addCleanup(E.t.run, E.h2, "ip", "route", "del", subnet, check=False)
        srv = [E.serve(nb, "fwb", "tcp:80"), E.serve(nc, "fwc", "tcp:80")]
        try:
            self.assertIsNone(E.connect(E.h2.ns, "tcp", bip, 80, timeout=0.5))
            self.assertIsNone(E.connect(E.h2.ns, "tcp", cip, 80, timeout=0.5))
            # Routed between bridges: no more than from the underlay.
            self.assertIsNone(E.connect(nc, "tcp", bip, 80, timeout=0.5))
            # The first attachment on gwf1 goes (the bridge's filter is the bridge's): b stays closed.
            E.delete(E.h1, ca, a, na, prev=ra)
            self.cleanups.pop(0)
            self.assertIsNone(E.connect(E.h2.ns, "tcp", bip, 80, timeout=0.5))
            self.assertEqual(E.connect(nb, "tcp", "203.0.113.1", 7000), f"inet {E.h1.ip}")
            fwd = E.t.run(E.h1, "nft", "list", "chain", "inet", "ovl_gwbridge", "forward").stdout
            self.assertEqual(fwd.count('oifname "gwf1" jump br-gwf1 comment "ovl-br:gwf1"'), 1, fwd)
            self.assertEqual(fwd.count('oifname "gwf2" jump br-gwf2 comment "ovl-br:gwf2"'), 1, fwd)
            # A network that disagrees on the bridge's subnet is refused, naming the field and the bridge.
            bad = conf("gwfd", "gwf1", "10.94.0.0/24")
            bad["ipam"]["pool"] = "gwfd"
            netns = E.t.add_container(E.h1, "fwd-bad")
            _, err, _, _ = E.plugin(E.h1, "ADD", bad, f"fwd-bad-{E.t.prefix}", netns, check=False)
            self.assertEqual(err["code"], 7, err)
            self.assertIn("the IPAM subnet is 10.94.0.0/24 here but 10.91.0.0/24 on bridge 'gwf1'", err["msg"])
            self.assertEqual(len(E.leases(E.h1)), 2)
            # The last attachment of each bridge takes the bridge's rules with it.
            E.delete(E.h1, cb, b, nb, prev=rb)
            E.delete(E.h1, cc, c, nc, prev=rc)
            self.cleanups.clear()
            table = E.t.run(E.h1, "nft", "list", "table", "inet", "ovl_gwbridge").stdout
            self.assertNotIn("gwf1", table)
            self.assertNotIn("gwf2", table)
        finally:
            for p in srv:
                E.stop(p)
        for bridge in ("gwf1", "gwf2"):
            E.t.run(E.h1, "ip", "link", "del", bridge, check=False)

    def test_add_check_del_del_every_version(self):
        ports = [{"hostPort": 9090, "containerPort": 90}]
        for v in VERSIONS:
            with self.subTest(version=v):
                conf = E.conf("gwv", E.h1, version=v, ports=ports)
                netns = E.t.add_container(E.h1, f"v{v.replace('.', '')}")
                cid = f"ver{v.replace('.', '')}-{E.t.prefix}"
                res = E.add(E.h1, conf, cid, netns)
                self.cleanups.append((E.h1, conf, cid, netns, "eth0"))
                self.assertEqual(res["cniVersion"], v)
                self.assertEqual([i["name"] for i in res["interfaces"]][0], BRIDGE)
                self.assertEqual(res["interfaces"][2]["sandbox"], netns)
                self.assertTrue(all(i.get("mac") for i in res["interfaces"]))
                self.assertEqual(res["ips"][0]["interface"], 2)
                self.assertEqual("version" in res["ips"][0], v < "1.0.0")
                self.assertEqual("mtu" in res["interfaces"][2], v == "1.1.0")
                self.assertEqual(E.addr(netns, "eth0"), res["ips"][0]["address"].split("/")[0])
                tags = [c for c in E.rule_comments(E.h1) if c == f"ovl:gwv:{cid}:eth0"]
                # one element in ports4, one in the hairpin set; no rule of its own
                self.assertEqual(len(tags), 2)
                if v >= "0.4.0":
                    E.plugin(E.h1, "CHECK", conf, cid, netns, prev=res)
                    # CHECK notices a missing route and missing rules.
                    E.t.run(netns, "ip", "route", "del", "default")
                    rc, err, _, _ = E.plugin(E.h1, "CHECK", conf, cid, netns, prev=res, check=False)
                    self.assertNotEqual(rc, 0)
                    self.assertIn("0.0.0.0/0 via 172.18.0.1 is missing", err["msg"])
                    E.t.run(netns, "ip", "route", "add", "default", "via", GATEWAY)
                    E.plugin(E.h1, "CHECK", conf, cid, netns, prev=res)
                    rc, err, _, _ = E.plugin(E.h1, "CHECK", E.conf("gwv", E.h1, version=v), cid, netns, prev=res,
                                             check=False)
                    self.assertNotEqual(rc, 0, "CHECK without the port mapping must see extra elements")
                    self.assertIn(f"the port mappings of ovl:gwv:{cid}:eth0 differ: extra", err["msg"])
                E.delete(E.h1, conf, cid, netns, prev=res)
                E.delete(E.h1, conf, cid, netns, prev=res)
                E.delete(E.h1, conf, cid, "")
                self.cleanups.pop()
                self.assertEqual([c for c in E.rule_comments(E.h1) if cid in c], [])
                self.assertNotIn("eth0", [l["ifname"] for l in E.links(netns)])
                self.assertEqual(E.leases(E.h1), [])

    def test_del_without_netns_or_prevresult_removes_everything(self):
        ports = [{"hostPort": 8088, "containerPort": 80}, {"hostPort": 5355, "containerPort": 53, "protocol": "udp"}]
        made = []
        for i, (name, p) in enumerate((("d1", ports), ("d2", None), ("d3", [{"hostPort": 8089, "containerPort": 80}]))):
            conf = E.conf("gwd", E.h1, ports=p)
            cid, netns, res = self.container(E.h1, name, conf)
            made.append((conf, cid, netns, res))
        # Port mapping elements: d1 2 and its hairpin element, d2 none, d3 1 and its hairpin element.
        self.assertEqual(len([c for c in E.rule_comments(E.h1) if c.startswith("ovl:gwd:")]), 3 + 0 + 2)
        self.assertEqual(len(E.leases(E.h1)), 3)
        # containerd: the namespace is gone and DEL comes with an empty CNI_NETNS and no prevResult.
        conf, cid, netns, res = made[0]
        E.t.remove_container(netns)
        E.delete(E.h1, conf, cid, "")
        # CRI: DEL on stop with netns and prevResult, then again on remove with neither.
        conf, cid, netns, res = made[1]
        E.delete(E.h1, conf, cid, netns, prev=res)
        E.delete(E.h1, conf, cid, "")
        # DEL with the netns but no prevResult and no runtimeConfig.
        conf, cid, netns, res = made[2]
        E.delete(E.h1, E.conf("gwd", E.h1), cid, netns)
        self.cleanups.clear()
        self.assertEqual([c for c in E.rule_comments(E.h1) if c.startswith("ovl")], [])
        self.assertEqual(E.leases(E.h1), [])
        self.assertEqual(E.gw_veths(E.h1), [])
        # The tables and chains stay (shared, empty).
        tables = E.t.run(E.h1, "nft", "list", "tables").stdout
        self.assertIn("table inet ovl_gwbridge", tables)
        self.assertIn("table bridge ovl_gwbridge", tables)

    def test_coexists_with_iptables_nft_rules_of_others(self):
        E.t.run(E.h1, "iptables", "-t", "nat", "-A", "POSTROUTING", "-s", "10.77.0.0/16", "-j", "MASQUERADE")
        E.t.run(E.h1, "iptables", "-A", "FORWARD", "-s", "10.77.0.0/16", "-j", "ACCEPT")
        try:
            before = E.t.run(E.h1, "iptables-save").stdout
            conf = E.conf("gwa", E.h1, ports=[{"hostPort": 8082, "containerPort": 80}])
            cid, netns, res = self.container(E.h1, "co1", conf)
            self.assertEqual(E.connect(netns, "tcp", "203.0.113.1", 7000), f"inet {E.h1.ip}")
            E.delete(E.h1, conf, cid, netns, prev=res)
            self.cleanups.pop()
            after = E.t.run(E.h1, "iptables-save").stdout
            strip = lambda s: [l for l in s.splitlines() if not l.startswith("#") and not l.startswith(":")]
            self.assertEqual(strip(before), strip(after))
            self.assertIn("10.77.0.0/16", after)
        finally:
            E.t.run(E.h1, "iptables", "-t", "nat", "-D", "POSTROUTING", "-s", "10.77.0.0/16", "-j", "MASQUERADE",
                    check=False)
            E.t.run(E.h1, "iptables", "-D", "FORWARD", "-s", "10.77.0.0/16", "-j", "ACCEPT", check=False)

    def test_chained_after_reference_bridge(self):
        # The lead's overlay+gwbridge test will do this with `overlay`; the contract is the same: the first
        # plugin's eth0 keeps only its subnet route, gwbridge adds gw-eth0 with the default route.
        first = {"cniVersion": "1.0.0", "name": "chain", "type": "bridge", "bridge": "cnt0", "isGateway": True,
                 "isDefaultGateway": True,
                 "ipam": {"type": "host-local", "subnet": "10.99.0.0/24",
                          "dataDir": os.path.join(E.t.tmpdir, "hostlocal")}}
        conf = E.conf("chain", E.h1)
        netns = E.t.add_container(E.h1, "ch1")
        cid = f"ch1-{E.t.prefix}"
        # podman --ip: IP= reaches every plugin of the list and is meant for the first one.
        args = "IgnoreUnknown=1;K8S_POD_NAME=ch1;IP=10.99.0.50"
        _, prev, _, _ = E.plugin(E.h1, "ADD", first, cid, netns, binary="bridge", args=args)
        try:
            self.assertEqual(prev["ips"][0]["address"], "10.99.0.50/24")
            self.assertIn("0.0.0.0/0", [r["dst"] for r in prev["routes"]])
            # The chained interface must differ from CNI_IFNAME.
            rc, err, _, _ = E.plugin(E.h1, "ADD", dict(conf, ifName="eth0"), cid, netns, prev=prev, check=False)
            self.assertNotEqual(rc, 0)
            self.assertEqual(err["code"], 7)
            _, res, _, _ = E.plugin(E.h1, "ADD", conf, cid, netns, prev=prev, args=args)
            self.cleanups.append((E.h1, conf, cid, netns, "eth0"))
            self.assertTrue(res["ips"][1]["address"].startswith("172.18."))
            names = [i["name"] for i in res["interfaces"]]
            self.assertEqual(names[:3], [i["name"] for i in prev["interfaces"]])
            self.assertEqual(names[3:5], [BRIDGE, names[4]])
            self.assertEqual(names[5], "gw-eth0")
            self.assertEqual(res["ips"][0], prev["ips"][0])
            self.assertEqual(res["ips"][1]["interface"], 5)
            self.assertEqual([(r["dst"], r.get("gw")) for r in res["routes"]], [("0.0.0.0/0", GATEWAY)])
            routes = {(r["dst"], r.get("gateway"), r["dev"]) for r in E.routes(netns)}
            self.assertIn(("default", GATEWAY, "gw-eth0"), routes)
            self.assertIn(("10.99.0.0/24", None, "eth0"), routes)
            self.assertEqual([r for r in routes if r[0] == "default"], [("default", GATEWAY, "gw-eth0")])
            self.assertEqual(E.connect(netns, "tcp", "203.0.113.1", 7000), f"inet {E.h1.ip}")
            E.plugin(E.h1, "CHECK", conf, cid, netns, prev=res, args=args)
            # DEL in reverse order with the cached result, as libcni does.
            E.plugin(E.h1, "DEL", conf, cid, netns, prev=res, args=args)
            self.cleanups.pop()
            self.assertIn("eth0", [l["ifname"] for l in E.links(netns)])
            self.assertNotIn("gw-eth0", [l["ifname"] for l in E.links(netns)])
        finally:
            E.plugin(E.h1, "DEL", first, cid, netns, binary="bridge", check=False)

    def test_gc_removes_only_stale_attachments_of_its_network(self):
        g1, n1, r1 = self.container(E.h1, "gc1", E.conf("gwg", E.h1, version="1.1.0",
                                                        ports=[{"hostPort": 8181, "containerPort": 80}]))
        g2, n2, r2 = self.container(E.h1, "gc2", E.conf("gwg", E.h1, version="1.1.0",
                                                        ports=[{"hostPort": 8182, "containerPort": 80}]))
        o1, no1, ro1 = self.container(E.h1, "gco", E.conf("gwo", E.h1, version="1.1.0"))
        gc = E.conf("gwg", E.h1, version="1.1.0")
        gc["cni.dev/valid-attachments"] = [{"containerID": g1, "ifname": "eth0"}]
        rc, res, out, err = run_plugin(E.t, E.h1, "gwbridge", "GC", gc, None, None, None,
                                       extra_env={"OVL_NODE_CONFIG": E.node_cfg["h1"]})
        self.assertEqual(rc, 0, out + err)
        comments = E.rule_comments(E.h1)
        self.assertTrue(any(c == f"ovl:gwg:{g1}:eth0" for c in comments))
        self.assertFalse(any(g2 in c for c in comments))
        self.assertIn(ro1["interfaces"][1]["name"], E.gw_veths(E.h1), "GC touched another network")
        self.assertEqual(len(E.leases(E.h1)), 2)
        self.assertNotIn(r2["interfaces"][1]["name"], E.gw_veths(E.h1))

    def test_parallel_add_and_double_del(self):
        from concurrent.futures import ThreadPoolExecutor
        n = 8
        conf = E.conf("gwp", E.h2, ports=[{"hostPort": 9100, "containerPort": 80}])
        conf_np = E.conf("gwp", E.h2)
        nets = [E.t.add_container(E.h2, f"par{i}") for i in range(n)]
        cids = [f"par{i}-{E.t.prefix}" for i in range(n)]

        def add(i):
            # Only one container may own host port 9100; the others have none.
            return E.plugin(E.h2, "ADD", conf if i == 0 else conf_np, cids[i], nets[i], check=False)

        with ThreadPoolExecutor(n) as ex:
            results = list(ex.map(add, range(n)))
        for i, (rc, res, out, err) in enumerate(results):
            self.cleanups.append((E.h2, conf_np, cids[i], nets[i], "eth0"))
            self.assertEqual(rc, 0, f"ADD {i}: {out} {err[-1500:]}")
        ips = {res["ips"][0]["address"] for _, res, _, _ in results}
        self.assertEqual(len(ips), n)
        self.assertEqual(len([c for c in E.rule_comments(E.h2) if c.startswith("ovl:gwp:")]), 2)  # container 0's
        self.assertEqual(E.t.run(E.h2, "ip", "-br", "addr", "show", "dev", BRIDGE).stdout.count(GATEWAY), 1)

        # CRI-style: two DELs per container at once (stop with netns, remove without).
        def delete(job):
            i, with_ns = job
            return E.plugin(E.h2, "DEL", conf_np, cids[i], nets[i] if with_ns else "", check=False)

        with ThreadPoolExecutor(n) as ex:
            dels = list(ex.map(delete, [(i, w) for i in range(n) for w in (True, False)]))
        for rc, res, out, err in dels:
            self.assertEqual(rc, 0, f"DEL: {out} {err[-1500:]}")
        self.cleanups.clear()
        self.assertEqual([c for c in E.rule_comments(E.h2) if c.startswith("ovl")], [])
        self.assertEqual(E.gw_veths(E.h2), [])

    def test_dual_stack(self):
        conf = E.conf("gw6", E.h1, version="1.0.0", ports=[{"hostPort": 8480, "containerPort": 80}])
        conf["ipam"] = {"type": "host-local", "ranges": [[{"subnet": "172.19.0.0/16"}], [{"subnet": "fd00:18::/64"}]],
                        "dataDir": E.data_dir(E.h1)}
        conf["bridge"] = "gw6br"
        cid, netns, res = self.container(E.h1, "ds1", conf)
        self.assertEqual([ip["address"] for ip in res["ips"]], ["172.19.0.2/16", "fd00:18::2/64"])
        self.assertEqual(sorted(r["dst"] for r in res["routes"]), ["0.0.0.0/0", "::/0"])
        self.assertTrue(E.t.run(netns, "ping", "-6", "-c1", "-W1", "fd00:18::1", check=False).returncode == 0)
        rules = E.t.run(E.h1, "nft", "list", "table", "inet", "ovl_gwbridge").stdout
        self.assertIn(f'tcp . 8480 comment "ovl:gw6:{cid}:eth0" : fd00:18::2 . 80', rules)
        self.assertIn("ip6 saddr fd00:18::/64 oifname != \"gw6br\" masquerade", rules)
        E.plugin(E.h1, "CHECK", conf, cid, netns, prev=res)
        E.delete(E.h1, conf, cid, netns, prev=res)
        self.cleanups.pop()
        self.assertNotIn("fd00:18::2", E.t.run(E.h1, "nft", "list", "table", "inet", "ovl_gwbridge").stdout)

    def test_nft_reads_our_tables_back_as_the_rules_we_mean(self):
        """gwbridge writes nf_tables netlink itself (common/nfnl): nft(8) decodes every object back into the
        text the rules mean, line by line, for a dual-stack attachment with port mappings and icc=false."""
        ports = [{"hostPort": 8080, "containerPort": 80}, {"hostPort": 5353, "containerPort": 53, "protocol": "udp",
                                                           "hostIP": E.h1.ip}]
        conf = E.conf("gwn", E.h1, ports=ports, bridge="gwnbr")
        conf["ipam"] = {"type": "host-local", "ranges": [[{"subnet": "172.20.16.0/20"}], [{"subnet": "fd00:20::/64"}]],
                        "dataDir": E.data_dir(E.h1)}
        cid, netns, res = self.container(E.h1, "nf1", conf)
        tag = f"ovl:gwn:{cid}:eth0"
        veth = next(i["name"] for i in res["interfaces"] if re.fullmatch(r"gwb[0-9a-f]{12}", i["name"]))
        group = int(json.loads(E.t.run(E.h1, "ip", "-j", "-d", "link", "show", veth).stdout)[0]["group"])
        listing = (E.t.run(E.h1, "nft", "list", "table", "inet", "ovl_gwbridge").stdout +
                   E.t.run(E.h1, "nft", "list", "table", "bridge", "ovl_gwbridge").stdout)
        lines = {re.sub(r"\s+", " ", l.strip()) for l in listing.splitlines()}
        want = [
            "type nat hook prerouting priority dstnat; policy accept;",
            "type nat hook output priority -100; policy accept;",
            "type nat hook postrouting priority srcnat; policy accept;",
            "type filter hook forward priority filter; policy accept;",
            "type filter hook prerouting priority mangle; policy accept;",  # -150
            "type inet_proto . inet_service : ipv4_addr . inet_service",
            "type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service",
            "type inet_proto . inet_service : ipv6_addr . inet_service",
            "type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service",
            "type ifname . ifname",
            'dnat ip to ip daddr . meta l4proto . th dport map @ports4h comment "static"',
            'meta nfproto ipv4 fib daddr type local dnat ip to meta l4proto . th dport map @ports4 comment "static"',
            'dnat ip6 to ip6 daddr . meta l4proto . th dport map @ports6h comment "static"',
            'meta nfproto ipv6 fib daddr type local dnat ip6 to meta l4proto . th dport map @ports6 comment "static"',
            'ip6 daddr != ::1 fib daddr type local dnat ip6 to meta l4proto . th dport map @ports6 comment "static"',
            'comment "ipMasq=true icc=false subnets=172.20.16.0/20,fd00:20::/64 layout=2"',
            "ct state established,related accept",
            "ct status dnat accept",
            'iifname != "gwnbr" drop',
            "drop",
            'oifname "gwnbr" jump br-gwnbr comment "ovl-br:gwnbr"',
            'ip saddr 172.20.16.0/20 oifname != "gwnbr" masquerade comment "ovl-br:gwnbr"',
            'ip saddr 172.20.16.0/20 ip daddr 172.20.16.0/20 oifname "gwnbr" ct status dnat masquerade comment "ovl-br:gwnbr"',
            'ip saddr 127.0.0.0/8 ip daddr 172.20.16.0/20 oifname "gwnbr" ct status dnat masquerade comment "ovl-br:gwnbr"',
            'ip6 saddr fd00:20::/64 oifname != "gwnbr" masquerade comment "ovl-br:gwnbr"',
            'ip6 saddr fd00:20::/64 ip6 daddr fd00:20::/64 oifname "gwnbr" ct status dnat masquerade comment "ovl-br:gwnbr"',
            'iifname "gwnbr" ip daddr 127.0.0.0/8 drop comment "ovl-br:gwnbr"',
            'iifname "gwnbr" ip saddr 127.0.0.0/8 drop comment "ovl-br:gwnbr"',
            'iifname . oifname @hairpin accept comment "static"',
            f'iifgroup {group} drop comment "ovl-br:gwnbr"',
            f'oifgroup {group} drop comment "ovl-br:gwnbr"',
        ]
        missing = [w for w in want if w not in lines]
        self.assertEqual(missing, [], "nft lists:\n" + listing)
        # Elements: nft prints each with its comment and value.
        for elem in (f'tcp . 8080 comment "{tag}" : 172.20.16.2 . 80',
                     f'{E.h1.ip} . udp . 5353 comment "{tag}" : 172.20.16.2 . 53',
                     f'tcp . 8080 comment "{tag}" : fd00:20::2 . 80',
                     f'"{veth}" . "{veth}" comment "{tag}"'):
            self.assertIn(elem, listing)

    def test_del_removes_the_rules_an_earlier_version_made_per_attachment(self):
        """Versions before the port maps added rules per attachment, tagged with it. A host upgraded with
        containers running still has them: DEL removes its attachment's (and only those), GC is not needed."""
        conf = E.conf("gwold", E.h1, ports=[{"hostPort": 7780, "containerPort": 80}])
        cid, netns, res = self.container(E.h1, "old1", conf)
        other = E.conf("gwold", E.h1)
        cid2, _, _ = self.container(E.h1, "old2", other)
        cip = res["ips"][0]["address"].split("/")[0]
        for c in (cid, cid2):
            tag = f"ovl:gwold:{c}:eth0"
            E.t.run(E.h1, "nft", "add", "rule", "inet", "ovl_gwbridge", "prerouting", "tcp", "dport", "7781", "dnat",
                    "ip", "to", cip, "comment", f'"{tag}"')
            E.t.run(E.h1, "nft", "add", "rule", "inet", "ovl_gwbridge", "postrouting", "ip", "saddr", cip,
                    "masquerade", "comment", f'"{tag}"')
        E.delete(E.h1, conf, cid, netns, prev=res)
        self.cleanups.pop(0)
        comments = E.rule_comments(E.h1)
        self.assertNotIn(f"ovl:gwold:{cid}:eth0", comments)
        self.assertEqual(comments.count(f"ovl:gwold:{cid2}:eth0"), 2, "the other attachment's rules stay")

    def test_rules_of_an_earlier_layout_are_rewritten_by_the_next_add(self):
        """A host upgraded with containers running: the bridge's rules as the previous version wrote them
        (stamp without a layout, the hairpin masquerade with an anonymous set). CHECK names it; the next ADD
        on the bridge rewrites them in place; the old container keeps working and passes CHECK."""
        br, net = "gwup", "172.21.0.0/16"
        conf = E.conf("gwup", E.h1, bridge=br)
        conf["ipam"] = {"type": "host-local", "ranges": [[{"subnet": net}]], "dataDir": E.data_dir(E.h1)}
        cid1, netns1, res1 = self.container(E.h1, "up1", conf)
        tag = f"ovl-br:{br}"
        handles = [(r["chain"], r["handle"]) for r in nft_rules(E.t, E.h1)
                   if r["table"] == "ovl_gwbridge" and r["family"] == "inet" and r.get("comment") == tag]
        old = "".join(f"delete rule inet ovl_gwbridge {c} handle {h}\n" for c, h in handles)
        old += (f"flush chain inet ovl_gwbridge br-{br}\ndelete chain inet ovl_gwbridge br-{br}\n"
                f'add chain inet ovl_gwbridge br-{br} {{ comment "ipMasq=true icc=false subnets={net}"; }}\n'
                f"add rule inet ovl_gwbridge br-{br} ct state established,related accept\n"
                f"add rule inet ovl_gwbridge br-{br} ct status dnat accept\n"
                f'add rule inet ovl_gwbridge br-{br} iifname != "{br}" drop\n'
                f"add rule inet ovl_gwbridge br-{br} drop\n"
                f'add rule inet ovl_gwbridge forward oifname "{br}" jump br-{br} comment "{tag}"\n'
                f'add rule inet ovl_gwbridge postrouting ip saddr {net} oifname != "{br}" masquerade comment "{tag}"\n'
                f'add rule inet ovl_gwbridge postrouting ip saddr {{ {net}, 127.0.0.0/8 }} ip daddr {net} '
                f'oifname "{br}" ct status dnat masquerade comment "{tag}"\n'
                f'add rule inet ovl_gwbridge localnet iifname "{br}" ip daddr 127.0.0.0/8 drop comment "{tag}"\n'
                f'add rule inet ovl_gwbridge localnet iifname "{br}" ip saddr 127.0.0.0/8 drop comment "{tag}"\n')
        E.t.run(E.h1, "nft", "-f", "-", input=old)
        rc, _, out, _ = E.plugin(E.h1, "CHECK", conf, cid1, netns1, check=False, prev=res1)
        self.assertNotEqual(rc, 0)
        self.assertIn("earlier layout", out)
        self.container(E.h1, "up2", conf)
        table = E.t.run(E.h1, "nft", "list", "table", "inet", "ovl_gwbridge").stdout
        self.assertIn(f'comment "ipMasq=true icc=false subnets={net} layout=2"', table)
        self.assertNotIn("127.0.0.0/8 }", table)
        self.assertIn(f'ip saddr 127.0.0.0/8 ip daddr {net} oifname "{br}" ct status dnat masquerade', table)
        self.assertEqual(table.count(f'comment "{tag}"'), 6, table)  # jump, 3 masquerades, 2 localnet drops
        E.plugin(E.h1, "CHECK", conf, cid1, netns1, prev=res1)
        self.assertEqual(E.connect(netns1, "tcp", "203.0.113.1", 7000), f"inet {E.h1.ip}")

    def test_status(self):
        rc, res, out, err = run_plugin(E.t, E.h1, "gwbridge", "STATUS", E.conf("gws", E.h1, version="1.1.0"),
                                       None, None, None, extra_env={"OVL_NODE_CONFIG": E.node_cfg["h1"]})
        self.assertEqual(rc, 0, out + err)

    def test_failed_add_rolls_back(self):
        netns = E.t.add_container(E.h1, "rb1")
        E.t.run(netns, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
        conf = E.conf("gwr", E.h1, ports=[{"hostPort": 8183, "containerPort": 80}])
        veths = E.gw_veths(E.h1)
        rc, err, out, _ = E.plugin(E.h1, "ADD", conf, f"rb1-{E.t.prefix}", netns, check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("exists", err["msg"])
        self.assertEqual(E.gw_veths(E.h1), veths)
        # tearDown checks that no rules and no leases are left.

    def test_refuses_plugin_netns_and_bad_input(self):
        conf = E.conf("gwa", E.h1)
        rc, err, _, _ = E.plugin(E.h1, "ADD", conf, "bad1", E.h1.path, check=False)
        self.assertNotEqual(rc, 0)
        self.assertEqual(err["code"], 4)
        bad = E.conf("gwa", E.h1, ports=[{"hostPort": 80, "containerPort": 80, "hostIP": "1.2.3.4\" accept"}])
        netns = E.t.add_container(E.h1, "bad2")
        rc, err, _, _ = E.plugin(E.h1, "ADD", bad, "bad2", netns, check=False)
        self.assertEqual(err["code"], 7)

    def test_default_ipam(self):
        bridge = f"gw{E.t.prefix}"
        # No dataDir anywhere: overlay-ipam keeps the pool under the node config's stateDir.
        with open(E.node_cfg["h2"]) as f:
            data = os.path.join(json.load(f)["stateDir"], "networks", bridge)
        try:
            conf = {"cniVersion": "1.0.0", "name": "gwdef", "type": "gwbridge", "bridge": bridge}
            netns = E.t.add_container(E.h2, "def1")
            cid = f"def1-{E.t.prefix}"
            res = E.add(E.h2, conf, cid, netns)
            self.assertEqual(res["ips"][0]["address"], "172.18.0.2/16")
            self.assertEqual(res["interfaces"][0]["name"], bridge)
            self.assertEqual(len(E.leases(E.h2, data)), 1)
            self.assertEqual(E.connect(netns, "tcp", "203.0.113.1", 7000), f"inet {E.h2.ip}")
            E.delete(E.h2, conf, cid, "")
            self.assertEqual(E.leases(E.h2, data), [])
        finally:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
