"""End-to-end: ARP misses answered by the watcher, not flooded (issue 18, "answer known addresses without
flooding", with `l2miss`/`l3miss` as nfnetlink_log reports: common/vxlan/arp_reports.hpp).

While `overlay watch` runs on a host, an ARP request its bridges could not answer is dropped before the
VXLAN port and reported to the watcher instead of being copied to every member; the watcher reads the
network's attachments from the leader, installs the entries and announces the address to the asking
container. Without a watcher (it stopped, or died and an ADD noticed) requests flood again.

Topology: Consul on cs, with a proxy in front of it (ovltest/lying_proxy.py) that h1's watcher and plugins
use: it can hold back the answers of h1's blocking queries (the watcher's feed) while answering its direct
reads, and logs those reads. h2 and h3 talk to Consul directly; h3 counts the ARP requests that reach it
over VXLAN. Containers use overlay-ipam with the Consul store.
"""

import json
import os
import re
import signal
import subprocess
import time
import unittest

from ovltest.arp_count import arp_request_counter
from ovltest.consul import ConsulServer
from ovltest.faults import start_lying_proxy, wait_for
from ovltest.netns import Topology
from ovltest.plugins import find_binary, run_plugin, tools_dir
from ovltest.timing import scaled

PREFIX = "overlay-cni"
SUBNET = "10.0.7.0/24"


def read(path):
    with open(path) as f:
        return f.read()


class Misses(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = t = Topology()
        t.start()
        try:
            cls.cs = t.add_host("cs", "198.51.100.10/24")
            cls.hosts = [t.add_host(f"h{i}", f"198.51.100.{10 + i}/24", mtu=1400) for i in (1, 2, 3)]
            cls.consul = ConsulServer(t, cls.cs, "198.51.100.10")
            cls.mode, cls.proxy_out = start_lying_proxy(t, cls.cs, "198.51.100.10")
            cls.node = {}
            for h in cls.hosts:
                store = "consul://198.51.100.10:8501" if h.name == "h1" else cls.consul.store_url
                path = os.path.join(t.tmpdir, f"node-{h.name}.json")
                with open(path, "w") as f:
                    json.dump({"store": store, "hostName": h.name, "advertise": "eth0",
                               "stateDir": os.path.join(t.tmpdir, "state"),
                               "metrics": {"listen": f"{h.cidr.split('/')[0]}:9177"},
                               # A leader read here takes milliseconds: 300 ms leaves room for a busy CI.
                               "arp": {"floodAfterMs": 300}}, f)
                cls.node[h.name] = path
            cls.watchers = {}
            for h in cls.hosts:
                cls.start_watcher(h)
        except BaseException:
            t.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.t.cleanup()

    @classmethod
    def start_watcher(cls, host):
        with open(os.path.join(cls.t.tmpdir, f"watch-{host.name}.log"), "a") as log:
            cls.watchers[host.name] = cls.t.popen(host, find_binary("overlay"), "watch", env=cls.env(host),
                                                  stdout=log, stderr=log)

    @classmethod
    def env(cls, host):
        return {"OVL_NODE_CONFIG": cls.node[host.name], "OVL_LOG_LEVEL": "debug"}

    def setUp(self):
        self.set_mode(None)
        self.attached = []
        self.conf = {"cniVersion": "1.0.0", "name": "miss", "type": "overlay",
                     "ipam": {"type": "overlay-ipam", "subnet": SUBNET, "store": "consul"}}

    def tearDown(self):
        self.set_mode(None)
        for h in self.hosts:
            if h.name not in self.watchers:
                self.start_watcher(h)
        for host, conf, cid in reversed(self.attached):
            rc, _, out, err = run_plugin(self.t, host, "overlay", "DEL", conf, cid, "", "eth0",
                                         extra_env=self.env(host))
            self.assertEqual(rc, 0, f"DEL {cid}: {out} {err[-800:]}")
        self.assertEqual(self.consul.kv_keys(f"{PREFIX}/attachments/"), [], "attachment records left")

    def set_mode(self, how, words=""):
        if how is None:
            if os.path.exists(self.mode):
                os.unlink(self.mode)
            return
        with open(self.mode, "w") as f:
            f.write(f"{how}\n{words}\n")

    def attach(self, host, cid, conf=None, name=None):
        conf = conf or self.conf
        netns = self.t.add_container(host, cid)
        rc, res, out, err = run_plugin(self.t, host, "overlay", "ADD", conf, cid, netns, "eth0",
                                       cni_args=f"IgnoreUnknown=1;K8S_POD_NAME={name}" if name else "",
                                       extra_env=self.env(host))
        self.assertEqual(rc, 0, f"ADD {cid} on {host.name}: {out} {err[-1500:]}")
        self.attached.append((host, conf, cid))
        return netns, res

    def vni(self, net="miss"):
        return json.loads(self.consul.kv_get(f"{PREFIX}/networks/{net}/config"))["vni"]

    def device(self, host, vni):
        """(ARP requests no entry answers are reported, the network's bridge answers the entries) on host."""
        table = self.t.run(host, "nft", "list", "table", "bridge", "ovl_arp", check=False).stdout
        port = self.t.run(host, "bridge", "-d", "link", "show", "dev", f"ovx-{vni}", check=False).stdout
        return ("log group 20310" in table and f'"ovx-{vni}"' in table, "neigh_suppress on" in port)

    def count_arp_requests(self, host, vni, sender):
        """Counts the ARP requests from `sender` that reach host over VXLAN; returns a function reading it."""
        counts = arp_request_counter(self.t, host, vni, [f"arp saddr ip {sender}"], self.addCleanup)
        return lambda: counts()[0]

    def metric(self, host, series):
        """The value of one series (name with its labels, as exposed) on host's watcher, 0 when absent."""
        text = self.t.run(host, "curl", "-sS", "--max-time", "5", f"http://{host.cidr.split('/')[0]}:9177/metrics").stdout
        for line in text.splitlines():
            if line.startswith(series + " "):
                return float(line.split()[-1])
        return 0

    def leader_reads(self, net="miss"):
        """The reads of the network's attachments h1 sent to the leader's address (read-only transactions)
        through the proxy so far."""
        return read(self.proxy_out).count(f"read /v1/kv/{PREFIX}/attachments/{net}/\n")

    def nearest_reads(self, net="miss"):
        """The reads of the network's attachments h1 made from its first server's own copy (?stale) so far."""
        return read(self.proxy_out).count(f"read /v1/kv/{PREFIX}/attachments/{net}/?recurse=true&stale")

    def watched_pair(self, prefix):
        """Containers PREFIX1 on h1 and PREFIX3 on h3, once both watchers synced the network (h1 reporting
        misses); returns h1's container, its result, the VNI and a counter of its ARP requests reaching h3."""
        h1, _, h3 = self.hosts
        n1, r1 = self.attach(h1, f"{prefix}1")
        self.attach(h3, f"{prefix}3")
        vni = self.vni()
        wait_for(lambda: self.device(h1, vni) == (True, True), 10, f"h1's watcher to report misses: {self.device(h1, vni)}")
        wait_for(lambda: self.device(h3, vni)[1], 10, "h3's watcher to sync the network")
        return n1, r1, vni, self.count_arp_requests(h3, vni, r1["ips"][0]["address"].split("/")[0])

    def ping_once(self, netns, ip, wait_s=2.0):
        """One echo request, answered within wait_s: the first ARP for ip must be answered, not retried."""
        return self.t.run(netns, "ping", "-n", "-q", "-c", "1", "-W", str(scaled(wait_s)), ip,
                          check=False).returncode == 0

    # ---------------------------------------------------------------------------------------------
    def test_1_a_miss_is_answered_from_the_leader_without_flooding(self):
        """h1's feed is held back, so that only the miss path can tell h1 of a container just added on h2: its
        first ping is answered, h1's watcher read the leader for it, h1 has the entries while the feed is
        still held, and the ARP request reached no other member."""
        h1, h2, _ = self.hosts
        n1, r1, vni, arp_at_h3 = self.watched_pair("m")
        self.set_mode("hold", f"/attachments/miss/")
        reads = self.leader_reads()
        _, r2 = self.attach(h2, "m2")
        ip2, mac2 = r2["ips"][0]["address"].split("/")[0], r2["interfaces"][2]["mac"]
        self.assertNotIn(mac2, self.t.run(h1, "ip", "neigh", "show", "dev", f"ovbr-{vni}").stdout,
                         "h1 knew m2 before any miss (the feed was not held)")
        self.assertTrue(self.ping_once(n1, ip2), self.diagnose(n1))
        self.assertIn(f"{ip2} lladdr {mac2} PERMANENT",
                      self.t.run(h1, "ip", "neigh", "show", "dev", f"ovbr-{vni}").stdout, self.diagnose(n1))
        self.assertGreater(self.leader_reads(), reads, "h1's watcher did not read the leader")
        self.assertGreaterEqual(self.metric(h1, 'overlay_cni_arp_reports_total{outcome="answered"}'), 1)
        self.assertGreaterEqual(self.metric(h1, "overlay_cni_arp_report_reads_total"), 1)
        self.assertEqual(arp_at_h3(), 0, "m1's ARP request for m2 was flooded to h3")

    def test_6_a_slow_store_falls_back_to_flooding(self):
        """h1's feed is held and its direct reads of the network are answered 1.5 s late: m1's first ARP
        request for a container just added on h2 goes on to the members after arp.floodAfterMs (300 ms here),
        the new container answers it, and h1 still installs the entry once its read comes back."""
        h1, h2, _ = self.hosts
        n1, r1, vni, arp_at_h3 = self.watched_pair("w")
        floods = self.metric(h1, "overlay_cni_arp_report_floods_total")
        self.set_mode("hold-slow", f"/attachments/miss/")
        _, r2 = self.attach(h2, "w2")
        ip2, mac2 = r2["ips"][0]["address"].split("/")[0], r2["interfaces"][2]["mac"]
        self.assertTrue(self.ping_once(n1, ip2), self.diagnose(n1))
        self.assertEqual(self.metric(h1, "overlay_cni_arp_report_floods_total"), floods + 1, self.diagnose(n1))
        self.assertGreaterEqual(arp_at_h3(), 1, "the request was not sent on to the other members")
        wait_for(lambda: f"{ip2} lladdr {mac2} PERMANENT" in self.t.run(h1, "ip", "neigh", "show", "dev", f"ovbr-{vni}").stdout,
                 10, "h1 to install m2 once its read came back")

    def test_2_a_container_scanning_its_subnet_costs_few_reads(self):
        """A hostile container asks for 150 addresses nobody has, at once: nothing is flooded, and its host's
        watcher reads the leader at most about once per 100 ms for the network (not once per address, and
        not again for an address it found missing); a new container on another host is still answered."""
        h1, h2, _ = self.hosts
        n1, r1, vni, arp_at_h3 = self.watched_pair("s")
        reads = self.leader_reads()
        start = time.monotonic()
        # Each ping makes the container's kernel send up to 3 ARP requests, one a second.
        self.t.run(n1, "sh", "-c", "for i in $(seq 100 249); do ping -n -q -c 1 -W 3 10.0.7.$i >/dev/null 2>&1 & done; wait",
                   check=False, timeout=60)
        took = time.monotonic() - start
        made = self.leader_reads() - reads
        # One read per network every 100 ms at most, after a burst of 3 (MissPolicy's networkBurst).
        self.assertLessEqual(made, int(took / 0.1) + 3, f"{made} leader reads in {took:.1f} s of scanning")
        self.assertLess(made, 150, "a read per address")
        self.assertGreater(self.metric(h1, 'overlay_cni_arp_reports_total{outcome="unknown"}'), 0)
        self.assertEqual(arp_at_h3(), 0, "the scan's ARP requests were flooded to h3: " + self.diagnose(n1))
        self.assertEqual(self.metric(h1, "overlay_cni_arp_report_floods_total"), 0, "unknown addresses fell back to flooding")
        _, r2 = self.attach(h2, "s2")
        ip2 = r2["ips"][0]["address"].split("/")[0]
        self.assertTrue(self.ping_once(n1, ip2), self.diagnose(n1))

    def test_3_a_dead_watchers_reports_are_removed_by_the_next_add(self):
        """A watcher killed outright leaves its ARP reports behind (nothing would answer them): the next ADD
        on the host removes them, new peers are reached by flooding, and a new watcher adds them again."""
        h1, h2, _ = self.hosts
        n1, _ = self.attach(h1, "d1")
        self.attach(h2, "d2")  # h2 is a member before h1's watcher dies (the watcher adds members, ADDs do not)
        vni = self.vni()
        wait_for(lambda: self.device(h1, vni) == (True, True), 10, "h1's watcher to report misses")
        w = self.watchers.pop("h1")
        w.send_signal(signal.SIGKILL)
        w.wait(timeout=10)
        self.assertEqual(self.device(h1, vni)[0], True, "the killed watcher's table went away by itself")
        self.attach(h1, "d4")
        self.assertEqual(self.device(h1, vni)[0], False, "the ADD left a dead watcher's ARP reports")
        _, r5 = self.attach(h2, "d5")  # h1 has no entry for it: only a flood can find it
        ip5 = r5["ips"][0]["address"].split("/")[0]
        self.assertNotIn(ip5, self.t.run(h1, "ip", "neigh", "show", "dev", f"ovbr-{vni}").stdout)
        self.assertTrue(self.ping_once(n1, ip5), "d1 does not reach d5 by flooding: " + self.diagnose(n1))
        self.start_watcher(h1)
        wait_for(lambda: self.device(h1, vni) == (True, True), 10, "h1's new watcher to report misses again")
        wait_for(lambda: self.ping_once(n1, ip5, 0.5), 5, "d1 to reach d5 again")

    def test_4_a_stopped_watcher_leaves_requests_flooding(self):
        """A watcher that stops removes its ARP reports with its entries: requests flood again."""
        h1, h2, _ = self.hosts
        n1, _ = self.attach(h1, "f1")
        _, r2 = self.attach(h2, "f2")
        ip2 = r2["ips"][0]["address"].split("/")[0]
        vni = self.vni()
        wait_for(lambda: self.device(h1, vni) == (True, True), 10, "h1's watcher to report misses")
        # h1's watcher added h2 to h1's flood list (no ADD on h1 has read h2 as a member).
        wait_for(lambda: ip2 in self.t.run(h1, "ip", "neigh", "show", "dev", f"ovbr-{vni}").stdout, 10, "h1 to know f2")
        w = self.watchers.pop("h1")
        w.terminate()
        w.wait(timeout=10)
        self.assertEqual(self.device(h1, vni), (False, False))
        self.assertNotIn("PERMANENT", self.t.run(h1, "ip", "neigh", "show", "dev", f"ovbr-{vni}").stdout)
        _, r3 = self.attach(h2, "f3")
        ip3 = r3["ips"][0]["address"].split("/")[0]
        self.assertTrue(self.ping_once(n1, ip3), "f1 does not reach f3 by flooding: " + self.diagnose(n1))

    def test_5_a_dual_stack_network_works_over_both(self):
        """Only ARP requests are reported: on a dual-stack network IPv6 neighbour discovery passes as before,
        and the containers reach each other over both."""
        h1, h2, _ = self.hosts
        conf = {"cniVersion": "1.0.0", "name": "dual", "type": "overlay",
                "ipam": {"type": "overlay-ipam", "store": "consul",
                         "ranges": [[{"subnet": "10.0.8.0/24"}], [{"subnet": "fd00:8::/64"}]]}}
        n1, _ = self.attach(h1, "v1", conf)
        _, r2 = self.attach(h2, "v2", conf)
        vni = self.vni("dual")
        wait_for(lambda: self.device(h1, vni) == (True, True), 10, "h1's watcher to sync the network")
        ips = [i["address"].split("/")[0] for i in r2["ips"]]
        for ip in ips:
            self.assertTrue(self.t.ping(n1, ip, count=1, timeout=int(scaled(3))), f"v1 to {ip}: " + self.diagnose(n1))

    def test_7_a_watcher_that_slept_through_its_devices_made_again_syncs_the_new_ones(self):
        """h3's watcher is stopped while the last container on h3 leaves and a new one comes (the network's
        devices are removed and made again, its records withdrawn and written again): once it runs again it
        syncs the new devices (ARP suppression, r1's entries) at once, not at its next full pass a minute on."""
        h1, _, h3 = self.hosts
        _, r1, vni, _ = self.watched_pair("r")
        ip1 = r1["ips"][0]["address"].split("/")[0]
        index = lambda: self.t.run(h3, "cat", f"/sys/class/net/ovx-{vni}/ifindex", check=False).stdout.strip()
        before = index()
        w = self.watchers["h3"]
        os.killpg(w.pid, signal.SIGSTOP)
        try:
            host, conf, cid = self.attached.pop()
            self.assertEqual((host.name, cid), ("h3", "r3"))
            rc, _, out, err = run_plugin(self.t, h3, "overlay", "DEL", conf, cid, "", "eth0", extra_env=self.env(h3))
            self.assertEqual(rc, 0, f"DEL r3: {out} {err[-800:]}")
            self.attach(h3, "r4")
            self.assertNotEqual(index(), before, "the devices were not made again")
            self.assertEqual(self.device(h3, vni)[1], False, "a new VXLAN port suppresses ARP before any watcher synced it")
        finally:
            os.killpg(w.pid, signal.SIGCONT)
        wait_for(lambda: self.device(h3, vni)[1], 10, "h3's watcher to sync the network's new devices")
        wait_for(lambda: f"{ip1} lladdr" in self.t.run(h3, "ip", "neigh", "show", "dev", f"ovbr-{vni}").stdout, 10,
                 "h3's watcher to install r1's entry on the new bridge")

    def test_9_a_host_that_joined_is_joined_by_the_answerer(self):
        """h1's feed is held back for the network's members and attachments, and h2 joins the network with its
        first container: m1's first ARP request for it is answered, h1's answerer having read h2's member
        record from the leader and added h2's flood entry and allow-list pair itself, and nothing reached h3."""
        h1, h2, _ = self.hosts
        n1, _, vni, arp_at_h3 = self.watched_pair("j")
        self.set_mode("hold", "/miss/")
        _, r2 = self.attach(h2, "j2")
        ip2 = r2["ips"][0]["address"].split("/")[0]
        vtep2 = h2.cidr.split("/")[0]
        flood = lambda: self.t.run(h1, "bridge", "fdb", "show", "dev", f"ovx-{vni}").stdout
        self.assertNotIn(f"00:00:00:00:00:00 dst {vtep2}", flood(), "h1 knew h2 as a member before any miss")
        self.assertTrue(self.ping_once(n1, ip2), self.diagnose(n1))
        self.assertIn(f"00:00:00:00:00:00 dst {vtep2}", flood())
        self.assertGreaterEqual(self.metric(h1, "overlay_cni_arp_report_joins_total"), 1, self.diagnose(n1))
        self.assertEqual(arp_at_h3(), 0, "j1's ARP request for j2 was flooded to h3")

    def test_11_a_host_that_joins_a_network_syncs_it_without_its_feed(self):
        """h1's feed never answers for a network h1 joins (the proxy holds its listings, the first one too):
        h1's watcher still syncs the network at once, from one read of the leader (kv::ChangeFeed seeds),
        so that the containers of the hosts that were members before h1's ADD read them are known: their
        neighbour entry and their host's flood entry are on h1 before any traffic."""
        h1, _, h3 = self.hosts
        conf = {"cniVersion": "1.0.0", "name": "seeded", "type": "overlay",
                "ipam": {"type": "overlay-ipam", "subnet": "10.0.9.0/24", "store": "consul"}}
        _, r3 = self.attach(h3, "e3", conf)
        vni = self.vni("seeded")
        wait_for(lambda: self.device(h3, vni)[1], 10, "h3's watcher to sync the network")
        self.set_mode("hold-lists", "/seeded/")
        before = read(self.proxy_out).count(f"read /v1/kv/{PREFIX}/attachments/seeded/")
        self.attach(h1, "e1", conf)
        ip3 = r3["ips"][0]["address"].split("/")[0]
        vtep3 = h3.cidr.split("/")[0]
        neigh = lambda: self.t.run(h1, "ip", "neigh", "show", "dev", f"ovbr-{vni}").stdout
        wait_for(lambda: f"{ip3} lladdr" in neigh(), 5, f"h1's watcher to install e3's entry: {neigh()}")
        self.assertIn(f"00:00:00:00:00:00 dst {vtep3}",
                      self.t.run(h1, "bridge", "fdb", "show", "dev", f"ovx-{vni}").stdout)
        self.assertEqual(self.device(h1, vni), (True, True), "h1 does not report the network's misses")
        self.assertGreater(read(self.proxy_out).count(f"read /v1/kv/{PREFIX}/attachments/seeded/"), before,
                           "h1's watcher made no direct read of the network's attachments")

    def start_resolver(self, host):
        """overlay-resolver on host, with host's node config (h1's goes through the proxy); stopped at cleanup."""
        state = os.path.join(self.t.tmpdir, "state")
        socks = lambda: {d for d in (os.listdir(state) if os.path.isdir(state) else [])
                         if os.path.exists(os.path.join(state, d, "resolver.sock"))}
        before = socks()
        with open(os.path.join(self.t.tmpdir, f"resolver-{host.name}.log"), "a") as log:
            p = self.t.popen(host, find_binary("overlay-resolver"), env=self.env(host), stdout=log, stderr=log)
        self.addCleanup(lambda: (p.terminate(), p.wait(timeout=10)))
        wait_for(lambda: socks() - before or p.poll() is not None, 10, "the resolver to listen")
        self.assertIsNone(p.poll(), "overlay-resolver exited")

    def drill(self, netns, name):
        """(rcode, [addresses]) of an A query for name at 127.0.0.11, from inside netns."""
        out = self.t.run(netns, "drill", name, "A", "@127.0.0.11", check=False, timeout=20).stdout
        rcode = re.search(r"rcode: (\w+)", out)
        return (rcode.group(1) if rcode else "no answer: " + out[-300:],
                re.findall(r"^\S+\s+\d+\s+IN\s+A\s+(\S+)$", out, re.M))

    def name_added_on_h2(self, prefix, mode, name):
        """h1's resolver and a watched pair PREFIX1/PREFIX3, the proxy in `mode` for the network's attachments,
        then a container PREFIX2 on h2 called `name`: returns h1's container and PREFIX2's address."""
        h1, h2, _ = self.hosts
        self.start_resolver(h1)
        n1, _, _, _ = self.watched_pair(prefix)
        self.set_mode(mode, "/attachments/miss/")
        _, r2 = self.attach(h2, f"{prefix}2", name=name)
        return n1, r2["ips"][0]["address"].split("/")[0]

    def test_8_a_name_no_listing_has_yet_is_read_for(self):
        """h1's feed is held back, so that no listing brings h1's resolver the name of a container just added
        on h2: a query for it is held for reads of the network (its first server's copy, then the leader's)
        and answered with its address; then a container asking for 60 names nobody has gets NXDOMAIN for each, at a cost of at most
        one read per 100 ms of the network."""
        h1 = self.hosts[0]
        n1, ip2 = self.name_added_on_h2("q", "hold", "fresh-name")
        reads = self.leader_reads()
        self.assertEqual(self.drill(n1, "fresh-name"), ("NOERROR", [ip2]))
        # Answered from the first server's copy or the leader's; the leader's read comes either way.
        wait_for(lambda: self.leader_reads() > reads, 5, "h1's resolver to read the leader")
        self.assertGreaterEqual(self.metric(h1, "overlay_cni_resolver_held_found_total"), 1)
        reads, nearest = self.leader_reads(), self.nearest_reads()
        start = time.monotonic()
        out = self.t.run(n1, "sh", "-c", "for i in $(seq 1 60); do drill nobody-$i A @127.0.0.11 | grep -o 'rcode: [A-Z]*' & done; wait",
                         check=False, timeout=60).stdout
        took = time.monotonic() - start
        self.assertEqual(out.split().count("NXDOMAIN"), 60, out)
        made = self.leader_reads() - reads
        self.assertLessEqual(made, int(took / 0.1) + 3, f"{made} leader reads in {took:.1f} s of asking")
        made = self.nearest_reads() - nearest
        self.assertLessEqual(made, int(took / 0.1) + 3, f"{made} reads of the nearest server in {took:.1f} s")

    def test_12_a_name_the_nearest_server_has_does_not_wait_for_the_leader(self):
        """h1's feed is held back and every leader read of the network's attachments answers 1.5 s late: a
        query for the name of a container just added on h2 is still answered at once, from a read of h1's
        first server's own copy (?stale), which h1's resolver makes before the leader's."""
        n1, ip2 = self.name_added_on_h2("n", "hold-slow-txn", "near-name")
        nearest = self.nearest_reads()
        start = time.monotonic()
        self.assertEqual(self.drill(n1, "near-name"), ("NOERROR", [ip2]))
        took = time.monotonic() - start
        self.assertGreater(self.nearest_reads(), nearest, "h1's resolver did not read its first server")
        self.assertLess(took, 1.2, f"the answer took {took:.2f} s: it waited for the leader's late read")

    def test_10_a_read_that_must_be_the_leaders_does_not_wait_for_who_leads(self):
        """kv::LeaderReader asks who leads on a thread of its own: with the proxy holding every such question,
        a read through it still comes back at once (asked first, it would wait for the question's 10 s
        timeout), and the question was asked meanwhile."""
        h1 = self.hosts[0]
        self.consul.kv_put(f"{PREFIX}-lr/a/k", "v")
        self.addCleanup(lambda: self.consul.kv_delete(f"{PREFIX}-lr/", recurse=True))
        self.set_mode("hold-status")
        held = read(self.proxy_out).count("status held")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONSUL_")}
        p = subprocess.run(self.t.exec_argv(h1, os.path.join(tools_dir(), "kvtool"), "--store",
                                            "consul://198.51.100.10:8501", "leader-trees-now", f"{PREFIX}-lr/a/",
                                            f"{PREFIX}-lr/b/"),
                           capture_output=True, text=True, env=env, timeout=scaled(8))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual([[kv["key"] for kv in t_["pairs"]] for t_ in json.loads(p.stdout)], [[f"{PREFIX}-lr/a/k"], []])
        wait_for(lambda: read(self.proxy_out).count("status held") > held, 5, "the question who leads")

    def diagnose(self, *netns):
        out = []
        for n in netns:
            out.append(f"{n}: " + self.t.run(n, "ip", "neigh", check=False).stdout)
        for h in self.hosts:
            out.append(f"{h.name}: " + self.t.run(h, "bridge", "fdb", "show", check=False).stdout)
            out.append(f"{h.name} bridge neighbours: " + self.t.run(h, "ip", "neigh", "show", check=False).stdout)
            out.append(f"{h.name} arp table: " + self.t.run(h, "nft", "--debug=netlink", "list", "table", "bridge", "ovl_arp", check=False).stdout)
            out.append(f"{h.name} links: " + self.t.run(h, "ip", "-d", "link", "show", check=False).stdout[-1500:])
            with open(os.path.join(self.t.tmpdir, f"watch-{h.name}.log")) as f:
                out.append(f"{h.name} watcher: " + f.read()[-3000:])
        return "\n".join(out)


if __name__ == "__main__":
    unittest.main()
