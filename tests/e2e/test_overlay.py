"""End-to-end: the overlay plugin on three simulated hosts with a real Consul (issue 4).

Topology: an underlay switch (198.51.100.0/24, MTU 1400 on the hosts), a Consul host, hosts h1..h3 each
running `overlay watch`, containers as network namespaces. Networks `over` (10.0.0.0/24) and `over2`
(10.0.1.0/24) use overlay-ipam with the Consul store, so addresses come from one cluster-wide pool.
"""

import json
import os
import re
import time
import unittest

from ovltest.arp_count import arp_request_counter
from ovltest.cleanup import run_all
from ovltest.consul import ConsulServer
from ovltest.faults import wait_for
from ovltest.netns import Topology
from ovltest.plugins import find_binary, run_plugin
from ovltest.timing import scaled

PREFIX = "overlay-cni"


def overlay_conf(name, subnet, version="1.0.0", **extra):
    conf = {"cniVersion": version, "name": name, "type": "overlay",
            "ipam": {"type": "overlay-ipam", "subnet": subnet, "store": "consul"}}
    conf.update(extra)
    return conf


class Cluster:
    """The simulated cluster shared by the tests of this module."""

    def __init__(self):
        self.t = Topology()
        self.t.start()
        self.cs = self.t.add_host("cs", "198.51.100.10/24")
        self.hosts = [self.t.add_host(f"h{i}", f"198.51.100.{10 + i}/24", mtu=1400) for i in (1, 2, 3)]
        self.consul = ConsulServer(self.t, self.cs, "198.51.100.10")
        self.node_cfg = {}
        for h in self.hosts:
            path = os.path.join(self.t.tmpdir, f"node-{h.name}.json")
            with open(path, "w") as f:
                json.dump({"store": self.consul.store_url, "hostName": h.name, "advertise": "eth0",
                           "stateDir": os.path.join(self.t.tmpdir, "state")}, f)
            self.node_cfg[h.name] = path
        self.watchers = {}

    def env(self, host):
        return {"OVL_NODE_CONFIG": self.node_cfg[host.name]}

    def start_watcher(self, host):
        log = open(os.path.join(self.t.tmpdir, f"watch-{host.name}.log"), "w")
        self.watchers[host.name] = self.t.popen(host, find_binary("overlay"), "watch", env=self.env(host),
                                                stdout=log, stderr=log)

    def stop_watcher(self, host):
        p = self.watchers.pop(host.name, None)
        if p:
            p.terminate()
            p.wait(timeout=10)

    def plugin(self, host, command, conf, cid, netns, ifname="eth0", args="", check=True):
        rc, res, out, err = run_plugin(self.t, host, "overlay", command, conf, cid, netns, ifname, cni_args=args,
                                       extra_env=self.env(host))
        if check and rc != 0:
            raise AssertionError(f"{command} {cid} on {host.name} failed rc={rc}: {out} {err[-1500:]}")
        return rc, res, out, err

    def add(self, host, conf, cid, netns, ifname="eth0", args=""):
        return self.plugin(host, "ADD", conf, cid, netns, ifname, args)[1]

    def delete(self, host, conf, cid, netns="", ifname="eth0"):
        self.plugin(host, "DEL", conf, cid, netns, ifname)

    def container_ip(self, netns, ifname="eth0"):
        out = self.t.run(netns, "ip", "-4", "-o", "addr", "show", "dev", ifname).stdout
        return re.search(r"inet (\S+)/", out).group(1)

    def ping_until(self, netns, ip, deadline_s=3.0):
        """Seconds until the first successful ping (one probe at a time), or None after scaled(deadline_s)."""
        start, deadline_s = time.monotonic(), scaled(deadline_s)
        while time.monotonic() - start < deadline_s:
            if self.t.run(netns, "ping", "-n", "-q", "-c", "1", "-W", "0.2", ip, check=False).returncode == 0:
                return time.monotonic() - start
        return None

    def diagnose(self, *netns):
        """Neighbour tables of containers and FDBs of every host, for failure messages."""
        out = []
        for n in netns:
            out.append(f"{n}: " + self.t.run(n, "ip", "neigh", check=False).stdout)
        for h in self.hosts:
            out.append(f"{h.name}: " + self.t.run(h, "bridge", "fdb", "show", check=False).stdout)
            out.append(f"{h.name} bridge neighbours: " + self.t.run(h, "ip", "neigh", "show", check=False).stdout)
            with open(os.path.join(self.t.tmpdir, f"watch-{h.name}.log")) as f:
                out.append(f"{h.name} watcher: " + f.read()[-3000:])
        return "\n".join(out)

    def links(self, host):
        return json.loads(self.t.run(host, "ip", "-j", "link").stdout)

    def flood_entries(self, host):
        """(device, VTEP) of every FDB entry with a remote destination on host, on any device."""
        return sorted((e["ifname"], e["dst"]) for e in json.loads(self.t.run(host, "bridge", "-j", "fdb", "show").stdout)
                      if "dst" in e)

    def vni(self, net):
        return json.loads(self.consul.kv_get(f"{PREFIX}/networks/{net}/config"))["vni"]


class OverlayE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster()
        for h in cls.c.hosts:
            cls.c.start_watcher(h)

    @classmethod
    def tearDownClass(cls):
        cls.c.t.cleanup()

    def setUp(self):
        self.cleanups = []

    def tearDown(self):
        self.assertEqual(run_all(self.cleanups), [], "DEL in the test's cleanup failed")

    def attach(self, host, net, subnet, cid, ifname="eth0", netns=None, args="", conf=None):
        netns = netns or self.c.t.add_container(host, cid)
        conf = conf or overlay_conf(net, subnet)
        res = self.c.add(host, conf, cid, netns, ifname, args)
        self.cleanups.append(lambda: self.c.delete(host, conf, cid, "", ifname))
        return netns, res

    # ---------------------------------------------------------------------------------------------
    def test_1_cross_host_shared_subnet_mtu_and_convergence(self):
        c = self.c
        h1, h2, h3 = c.hosts
        n1, r1 = self.attach(h1, "over", "10.0.0.0/24", "a1")
        # Result shape: interfaces with mac and sandbox, ips pointing at the container interface.
        self.assertEqual(r1["interfaces"][2]["name"], "eth0")
        self.assertEqual(r1["interfaces"][2]["sandbox"], n1)
        self.assertTrue(all(re.fullmatch(r"[0-9a-f:]{17}", i["mac"]) for i in r1["interfaces"]))
        self.assertEqual(r1["ips"][0]["interface"], 2)
        self.assertEqual(r1["ips"][0]["address"], "10.0.0.2/24")  # first lease after the gateway

        # (b) h2 joins the network: h1 (an existing member) reaches h2's container within one second,
        # thanks to h1's watcher adding h2 to its flood list.
        n2, r2 = self.attach(h2, "over", "10.0.0.0/24", "a2")
        ip2 = r2["ips"][0]["address"].split("/")[0]
        self.assertEqual(ip2, "10.0.0.3")  # one shared pool across hosts
        joined = c.ping_until(n1, ip2, 5.0)
        self.assertIsNotNone(joined, "h1 could not reach a container on a newly joined host")
        self.assertLess(joined, scaled(1.0), "README: reached within a second")
        print(f"\nconvergence, joining host: {joined * 1000:.0f} ms")

        # (a) both hosts already members: a new container on h2 is reachable from h1 at once.
        n3, r3 = self.attach(h2, "over", "10.0.0.0/24", "a3")
        ip3 = r3["ips"][0]["address"].split("/")[0]
        member = c.ping_until(n1, ip3, 2.0)
        self.assertIsNotNone(member)
        print(f"convergence, member host: {member * 1000:.0f} ms")

        # MTU: underlay 1400 -> container 1350; a full-size DF packet crosses, one byte more does not.
        link = json.loads(c.t.run(n1, "ip", "-j", "link", "show", "eth0").stdout)[0]
        self.assertEqual(link["mtu"], 1350)
        # An IPv4-only network: no IPv6 on the container's link (its router solicitations and MLD reports would
        # flood every member), so no IPv6 address at all.
        self.assertEqual(c.t.run(n1, "cat", "/proc/sys/net/ipv6/conf/eth0/disable_ipv6").stdout.strip(), "1")
        self.assertNotIn("inet6", c.t.run(n1, "ip", "-6", "addr", "show", "dev", "eth0").stdout)
        # An unanswered ARP is asked again after 100 ms, not the kernel's 1 s; ARP announcements always override.
        self.assertEqual(c.t.run(n1, "cat", "/proc/sys/net/ipv4/neigh/eth0/retrans_time_ms").stdout.strip(), "100")
        self.assertEqual(c.t.run(n1, "cat", "/proc/sys/net/ipv4/neigh/eth0/locktime").stdout.strip(), "0")
        # The gratuitous ARP at ADD comes from arp_notify, left on (a later MAC change announces again).
        self.assertEqual(c.t.run(n1, "cat", "/proc/sys/net/ipv4/conf/eth0/arp_notify").stdout.strip(), "1")
        self.assertTrue(c.t.ping(n1, ip2, size=1350 - 28, df=True))
        self.assertFalse(c.t.ping(n1, ip2, size=1350 - 27, df=True, timeout=1))

        # Kernel state on h1: VXLAN with the VNI, port 4789, local VTEP, on the bridge; flood entry to h2.
        vni = c.vni("over")
        vx = json.loads(c.t.run(h1, "ip", "-d", "-j", "link", "show", f"ovx-{vni}").stdout)[0]
        self.assertEqual(vx["linkinfo"]["info_data"]["id"], vni)
        self.assertEqual(vx["linkinfo"]["info_data"]["port"], 4789)
        self.assertEqual(vx["linkinfo"]["info_data"]["local"], h1.ip)
        self.assertEqual(vx["master"], f"ovbr-{vni}")
        fdb = c.t.run(h1, "bridge", "fdb", "show", "dev", f"ovx-{vni}").stdout
        self.assertIn(f"00:00:00:00:00:00 dst {h2.ip}", fdb)
        self.assertNotIn(f"00:00:00:00:00:00 dst {h1.ip}", fdb)
        self.assertIn((f"ovx-{vni}", h2.ip), c.flood_entries(h1))  # what test_9 relies on to see leftovers
        # No address on the overlay bridge: the host cannot route into the overlay.
        addrs = json.loads(c.t.run(h1, "ip", "-j", "addr", "show", f"ovbr-{vni}").stdout)[0]["addr_info"]
        self.assertEqual([a for a in addrs if a["family"] == "inet"], [])
        self.assertFalse(c.t.ping(h1, ip2, timeout=1))

        # Membership recorded for both hosts with their VTEPs.
        for h in (h1, h2):
            m = json.loads(c.consul.kv_get(f"{PREFIX}/networks/over/members/{h.name}"))
            self.assertEqual(m["vtep"], h.ip)

        # CHECK passes on a healthy attachment.
        conf = overlay_conf("over", "10.0.0.0/24")
        conf["prevResult"] = r1
        c.plugin(h1, "CHECK", conf, "a1", n1)

    def test_2_isolation_second_network_and_static_ip(self):
        c = self.c
        h1, h2, h3 = c.hosts
        n1, r1 = self.attach(h1, "over", "10.0.0.0/24", "b1")
        n2, r2 = self.attach(h2, "over2", "10.0.1.0/24", "b2")
        ip1 = r1["ips"][0]["address"].split("/")[0]
        ip2 = r2["ips"][0]["address"].split("/")[0]
        self.assertTrue(ip2.startswith("10.0.1."))
        self.assertNotEqual(c.vni("over"), c.vni("over2"))
        # over2 cannot reach over, even with a route pointed straight at its L2 segment.
        c.t.run(n2, "ip", "route", "add", "10.0.0.0/24", "dev", "eth0")
        self.assertFalse(c.t.ping(n2, ip1, timeout=1))

        # A container on both networks (eth0 on over, eth1 on over2) reaches both.
        both = c.t.add_container(h3, "b3")
        self.attach(h3, "over", "10.0.0.0/24", "b3", "eth0", netns=both)
        self.attach(h3, "over2", "10.0.1.0/24", "b3", "eth1", netns=both)
        self.assertIsNotNone(c.ping_until(both, ip1, 2.0))
        self.assertIsNotNone(c.ping_until(both, ip2, 2.0))

        # A container on no overlay (plain veth to its host, default route via the host) reaches neither.
        lone = c.t.add_container(h3, "lone")
        c.t.run(h3, "ip", "link", "add", "lone0", "type", "veth", "peer", "name", "eth0", "netns",
                lone.split("/")[-1])
        c.t.run(h3, "ip", "addr", "add", "10.99.0.1/30", "dev", "lone0")
        c.t.run(h3, "ip", "link", "set", "lone0", "up")
        c.t.run(lone, "ip", "addr", "add", "10.99.0.2/30", "dev", "eth0")
        c.t.run(lone, "ip", "link", "set", "eth0", "up")
        c.t.run(lone, "ip", "route", "add", "default", "via", "10.99.0.1")
        self.assertFalse(c.t.ping(lone, ip1, timeout=1))
        self.assertFalse(c.t.ping(lone, ip2, timeout=1))
        c.t.run(h3, "ip", "link", "del", "lone0")

        # A static IP (podman --ip arrives as CNI_ARGS IP=) on a network with its own subnet and gateway.
        conf = overlay_conf("custom", "10.0.7.0/24")
        conf["ipam"]["gateway"] = "10.0.7.254"
        n4, r4 = self.attach(h1, "custom", "10.0.7.0/24", "b4", args="IgnoreUnknown=1;IP=10.0.7.50", conf=conf)
        self.assertEqual(r4["ips"][0]["address"], "10.0.7.50/24")
        self.assertEqual(r4["ips"][0]["gateway"], "10.0.7.254")
        self.assertEqual(c.container_ip(n4), "10.0.7.50")
        n5, r5 = self.attach(h2, "custom", "10.0.7.0/24", "b5", conf=conf)
        # As host-local does, a static reservation moves the cursor: the next dynamic lease follows it.
        self.assertEqual(r5["ips"][0]["address"], "10.0.7.51/24")
        self.assertIsNotNone(c.ping_until(n5, "10.0.7.50", 2.0))

    def test_3_ip_reuse_across_hosts_has_no_stale_state(self):
        c = self.c
        h1, h2, h3 = c.hosts
        n1, r1 = self.attach(h1, "over", "10.0.0.0/24", "r1")
        conf = overlay_conf("over", "10.0.0.0/24")
        n2 = c.t.add_container(h2, "r2")
        r2 = c.add(h2, conf, "r2", n2, args="IgnoreUnknown=1;IP=10.0.0.77;MAC=02:00:00:00:00:77")
        self.assertEqual(r2["ips"][0]["address"], "10.0.0.77/24")
        self.assertIsNotNone(c.ping_until(n1, "10.0.0.77", 2.0))
        # Remove it from h2 and give the same IP and MAC to a new container on h3.
        c.delete(h2, conf, "r2", "")
        n3 = c.t.add_container(h3, "r3")
        c.add(h3, conf, "r3", n3, args="IgnoreUnknown=1;IP=10.0.0.77;MAC=02:00:00:00:00:77")
        self.cleanups.append(lambda: c.delete(h3, conf, "r3", ""))
        moved = c.ping_until(n1, "10.0.0.77", 2.0)
        self.assertIsNotNone(moved, "the moved IP/MAC is unreachable: stale forwarding state\n" + c.diagnose(n1, n3))
        print(f"\nreachability after the IP moved host: {moved * 1000:.0f} ms")
        # Same IP, new MAC on h2 (the common case: a new container, new MAC).
        c.delete(h3, conf, "r3", "")
        self.cleanups.pop()
        n4 = c.t.add_container(h2, "r4")
        c.add(h2, conf, "r4", n4, args="IgnoreUnknown=1;IP=10.0.0.77")
        self.cleanups.append(lambda: c.delete(h2, conf, "r4", ""))
        self.assertIsNotNone(c.ping_until(n1, "10.0.0.77", 2.0), c.diagnose(n1, n4))

    def test_4_del_is_idempotent_and_works_without_netns(self):
        c = self.c
        h1 = c.hosts[0]
        conf = overlay_conf("over", "10.0.0.0/24")
        n1 = c.t.add_container(h1, "d1")
        c.add(h1, conf, "d1", n1)
        c.delete(h1, conf, "d1", n1)          # with netns and no prevResult
        c.delete(h1, conf, "d1", "")          # again, containerd style: empty CNI_NETNS
        c.t.remove_container(n1)
        c.delete(h1, conf, "d1", "/run/netns/gone")  # netns path that no longer exists
        # DEL on a network that was never defined (runtimes call DEL for whatever they tried) writes nothing.
        c.delete(h1, overlay_conf("never-defined", "10.0.9.0/24"), "d0", "")
        self.assertEqual(c.consul.kv_keys(f"{PREFIX}/networks/never-defined/"), [])
        # ADD twice for the same attachment is refused without touching the first.
        n2 = c.t.add_container(h1, "d2")
        r2 = c.add(h1, conf, "d2", n2)
        ip2 = r2["ips"][0]["address"].split("/")[0]
        peer, _ = self.attach(c.hosts[1], "over", "10.0.0.0/24", "d3")
        self.assertIsNotNone(c.ping_until(peer, ip2, 3.0), "the first ADD does not work")
        eth0 = json.loads(c.t.run(n2, "ip", "-j", "addr", "show", "dev", "eth0").stdout)
        rc, res, out, err = c.plugin(h1, "ADD", conf, "d2", n2, check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("already attached", res["msg"])
        self.assertEqual(json.loads(c.t.run(n2, "ip", "-j", "addr", "show", "dev", "eth0").stdout), eth0)
        self.assertTrue(c.t.ping(peer, ip2), "the refused second ADD broke the first attachment")
        c.delete(h1, conf, "d2", "")

    def test_5_consul_down_add_fails_cleanly_datapath_survives(self):
        c = self.c
        h1, h2, _ = c.hosts
        n1, r1 = self.attach(h1, "over", "10.0.0.0/24", "f1")
        n2, r2 = self.attach(h2, "over", "10.0.0.0/24", "f2")
        ip2 = r2["ips"][0]["address"].split("/")[0]
        self.assertIsNotNone(c.ping_until(n1, ip2, 2.0))
        before = sorted(l["ifname"] for l in c.links(h1))
        c.consul.stop()
        try:
            n3 = c.t.add_container(h1, "f3")
            start = time.monotonic()
            rc, res, out, err = c.plugin(h1, "ADD", overlay_conf("over", "10.0.0.0/24"), "f3", n3, check=False)
            self.assertLess(time.monotonic() - start, scaled(10))
            self.assertNotEqual(rc, 0)
            self.assertEqual(res["code"], 11, out)
            self.assertIn("198.51.100.10", res["msg"])
            self.assertEqual(sorted(l["ifname"] for l in c.links(h1)), before)
            self.assertEqual(json.loads(c.t.run(n3, "ip", "-j", "link").stdout)[0]["ifname"], "lo")
            # Existing containers keep talking while the store is down.
            self.assertTrue(c.t.ping(n1, ip2))
        finally:
            c.consul.start()
        # -dev Consul restarted empty: the watchers restore membership of hosts that still have containers.
        deadline = time.monotonic() + scaled(10)
        while time.monotonic() < deadline:
            keys = c.consul.kv_keys(f"{PREFIX}/networks/over/members/")
            if len(keys) >= 2:
                break
            time.sleep(0.1)
        self.assertEqual(sorted(k.split("/")[-1] for k in keys), ["h1", "h2"])

    def test_6_watchers_remove_a_departed_hosts_flood_entry(self):
        c = self.c
        h1, h2, h3 = c.hosts
        conf = overlay_conf("depart", "10.0.3.0/24")
        got = {h.name: self.attach(h, "depart", "10.0.3.0/24", f"dp-{h.name}", conf=conf) for h in c.hosts}
        vni = c.vni("depart")

        def flood(host):
            out = c.t.run(host, "bridge", "fdb", "show", "dev", f"ovx-{vni}").stdout
            return sorted(re.findall(r"^00:00:00:00:00:00 dst (\S+)", out, re.M))

        def converged(want):
            return all(flood(h) == sorted(ips) for h, ips in want.items())

        everyone = {h: [o.ip for o in c.hosts if o is not h] for h in c.hosts}
        wait_for(lambda: converged(everyone), 5, "every host flooding to the two others")
        # h3's last container leaves: h3 withdraws its membership, and the watchers of h1 and h2 (not h3's DEL,
        # which touches only h3) drop their flood entry to it.
        left = time.monotonic()
        c.delete(h3, conf, "dp-h3")
        self.cleanups.pop()
        remaining = {h1: [h2.ip], h2: [h1.ip]}
        wait_for(lambda: converged(remaining), 5, f"h1 and h2 dropping the flood entry to {h3.ip}: "
                 f"h1 {flood(h1)}, h2 {flood(h2)}")
        print(f"\n  flood entry of the departed host gone on both others {(time.monotonic() - left) * 1000:.0f} ms "
              "after its DEL returned")
        self.assertIsNone(c.consul.kv_get(f"{PREFIX}/networks/depart/members/h3"))
        self.assertFalse([l for l in c.links(h3) if l["ifname"].endswith(f"-{vni}")], "h3 kept the devices")
        # The two that stay still reach each other.
        self.assertIsNotNone(c.ping_until(got["h1"][0], got["h2"][1]["ips"][0]["address"].split("/")[0], 2.0))

    def test_6a_a_joining_host_is_applied_as_a_difference(self):
        """An old member's watcher applies a host that joins without its full pass (no dumps, no re-reading
        of the allow-list): it admits the new VTEP, appends the flood entry and learns the new host's
        containers, all at once, so that the old member's first ARP for them is answered on its own host."""
        c = self.c
        h1, h2, _ = c.hosts
        conf = overlay_conf("joinx", "10.0.5.0/24")
        n1, _ = self.attach(h1, "joinx", "10.0.5.0/24", "jx1", conf=conf)
        vni = c.vni("joinx")

        def suppressing(host):
            return "neigh_suppress on" in c.t.run(host, "bridge", "-d", "link", "show", "dev", f"ovx-{vni}").stdout
        # h1's watcher synced the network in full (it turns suppression on then): what a difference applies to.
        wait_for(lambda: suppressing(h1), 5, "h1's watcher to sync joinx")
        log = os.path.join(c.t.tmpdir, "watch-h1.log")
        with open(log) as f:
            before = f.read()
        _, r2 = self.attach(h2, "joinx", "10.0.5.0/24", "jx2", conf=conf)
        ip2, mac2 = r2["ips"][0]["address"].split("/")[0], r2["interfaces"][2]["mac"]

        def state():
            fdb = c.t.run(h1, "bridge", "fdb", "show", "dev", f"ovx-{vni}").stdout
            neigh = c.t.run(h1, "ip", "neigh", "show", "dev", f"ovbr-{vni}").stdout
            sets = json.loads(c.t.run(h1, "nft", "-j", "list", "set", "inet", "ovl_vxlan", "allow4").stdout)
            elems = [tuple(e["concat"]) for o in sets["nftables"] if "set" in o for e in o["set"].get("elem", [])]
            return (f"00:00:00:00:00:00 dst {h2.ip}" in fdb, [h2.ip, vni] in [list(e) for e in elems],
                    f"{ip2} lladdr {mac2} PERMANENT" in neigh, f"{mac2} dst {h2.ip} self permanent" in fdb)

        wait_for(lambda: state() == (True, True, True, True), 5, f"h1 to apply h2's joining: {state()}")
        with open(log) as f:
            after = f.read()[len(before):]
        self.assertIn(f"flood entry for {h2.ip} (h2) added: a member of 'joinx'", after,
                      "h1's watcher did not apply the join as a difference")
        # h1's first contact with jx2 is answered on h1 (the peer entry) and crosses h2's and h1's allow-lists.
        self.assertIsNotNone(c.ping_until(n1, ip2, 2.0), c.diagnose(n1))

    def test_7_known_remote_addresses_are_answered_without_flooding(self):
        """The watchers keep a neighbour and FDB entry for every remote container, and the bridge answers ARP
        for them on the host (neigh_suppress on the VXLAN port): a first contact floods nothing to the other
        members. A request for an address no record names is reported to the watcher (test_misses), not
        flooded. The entries follow DEL, and a watcher that stops takes them (and the suppression) away: then
        the device floods what it cannot answer."""
        c = self.c
        h1, h2, h3 = c.hosts
        conf = overlay_conf("quiet", "10.0.4.0/24")
        n1, _ = self.attach(h1, "quiet", "10.0.4.0/24", "q1", conf=conf)
        _, r2 = self.attach(h2, "quiet", "10.0.4.0/24", "q2", conf=conf)
        self.attach(h3, "quiet", "10.0.4.0/24", "q3", conf=conf)
        vni, ip2, mac2 = c.vni("quiet"), r2["ips"][0]["address"].split("/")[0], r2["interfaces"][2]["mac"]
        unknown = "10.0.4.250"

        def known_on(host):
            neigh = c.t.run(host, "ip", "neigh", "show", "dev", f"ovbr-{vni}").stdout
            fdb = c.t.run(host, "bridge", "fdb", "show", "dev", f"ovx-{vni}").stdout
            return (f"{ip2} lladdr {mac2} PERMANENT" in neigh, f"{mac2} dst {h2.ip} self permanent" in fdb,
                    f"{mac2} master ovbr-{vni} static" in fdb)

        def suppressing(host):
            return "neigh_suppress on" in c.t.run(host, "bridge", "-d", "link", "show", "dev", f"ovx-{vni}").stdout

        wait_for(lambda: known_on(h1) == (True, True, True) and suppressing(h1), 5,
                 f"h1's watcher to know q2: {known_on(h1)}")
        # ARP requests for q2's address and for an unknown one, counted where floods would arrive: h3.
        floods = arp_request_counter(c.t, h3, vni, [f"arp daddr ip {ip2}", f"arp daddr ip {unknown}"], self.addCleanup)

        self.assertEqual(c.t.run(n1, "ip", "neigh", "show", ip2).stdout.strip(), "", "q1 knew q2 already")
        self.assertIsNotNone(c.ping_until(n1, ip2, 2.0), c.diagnose(n1))
        self.assertIn(f"lladdr {mac2}", c.t.run(n1, "ip", "neigh", "show", ip2).stdout)
        c.t.ping(n1, unknown, timeout=1)  # nobody has it: h1 reports q1's ARP request to its watcher
        self.assertEqual(floods(), [0, 0], "an ARP request of q1 was flooded to h3")
        # DEL: the watchers forget q2.
        c.delete(h2, conf, "q2")
        self.cleanups.pop(1)
        wait_for(lambda: known_on(h1) == (False, False, False), 5, f"h1 to forget q2: {known_on(h1)}")
        # A watcher that stops takes its entries and the suppression with it (nothing would keep them).
        _, r4 = self.attach(h2, "quiet", "10.0.4.0/24", "q4", conf=conf)
        ip4 = r4["ips"][0]["address"].split("/")[0]
        wait_for(lambda: ip4 in c.t.run(h1, "ip", "neigh", "show", "dev", f"ovbr-{vni}").stdout, 5, "h1 to know q4")
        c.stop_watcher(h1)
        try:
            self.assertNotIn("PERMANENT", c.t.run(h1, "ip", "neigh", "show", "dev", f"ovbr-{vni}").stdout)
            self.assertFalse(suppressing(h1))
            c.t.ping(n1, unknown, timeout=1)  # without a watcher h1 floods what its bridge cannot answer
            wait_for(lambda: floods()[1] > 0, 5, "the unknown address's ARP to reach h3 (the counter works)")
            self.assertEqual(floods()[0], 0, "q1's ARP for q2 was flooded to h3 although h1 knew q2")
            self.assertIsNotNone(c.ping_until(n1, ip4, 3.0), "q1 reaches q4 by flooding, without a watcher")
        finally:
            c.start_watcher(h1)

    def test_9_everything_gone_after_del(self):
        c = self.c
        # Runs last: every earlier test deleted its containers in tearDown.
        left = {}
        for h in c.hosts:
            names = [l["ifname"] for l in c.links(h) if l["ifname"].startswith(("ovx-", "ovbr-", "ovv"))]
            left.update({f"{h.name} links": names, f"{h.name} flood entries": c.flood_entries(h)})
        self.assertEqual({k: v for k, v in left.items() if v}, {})
        keys = c.consul.kv_keys(f"{PREFIX}/")
        leftovers = [k for k in keys if "/members/" in k or "/attachments/" in k or "/leases/" in k
                     or "/owners/" in k]
        self.assertEqual(leftovers, [])


if __name__ == "__main__":
    unittest.main()
