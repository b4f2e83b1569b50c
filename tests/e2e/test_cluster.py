"""End-to-end: the cluster's state has one owner (issue 14). Each test is one of the failures the issue lists,
tried as a user would, with a real Consul, real kernels and three simulated hosts running `overlay watch`
and `overlay-resolver`.

Topology: Consul on cs (a -dev server: a restart comes back empty), hosts h1..h3 on the underlay
198.51.100.0/24, containers as network namespaces; every network here uses overlay-ipam with the Consul store.
"""

import json
import os
import re
import time
import unittest

from ovltest.faults import wait_for
from ovltest.plugins import find_binary, run_plugin
from ovltest.timing import scaled
from rtlib import RtCluster

PREFIX = "overlay-cni"


def conf(net, subnet, version="1.0.0", **ipam_extra):
    ipam = {"type": "overlay-ipam", "subnet": subnet}
    ipam.update(ipam_extra)
    return {"cniVersion": version, "name": net, "type": "overlay", "ipam": ipam}


def ip_of(res):
    return res["ips"][0]["address"].split("/")[0]


def poll(fn, deadline_s, what):
    """fn() until it returns a true value, within scaled(deadline_s) (wait_for scales it)."""
    return wait_for(fn, deadline_s, what, interval=0.05)


class ClusterState(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = RtCluster(nhosts=4, mtu=1500)
        # h1..h3 run a watcher and a resolver throughout; h4 is the host that dies in test_7.
        cls.t, cls.hosts, cls.consul, cls.daemons = cls.c.t, cls.c.hosts[:3], cls.c.consul, {}
        cls.h4 = cls.c.hosts[3]
        try:
            for h in cls.hosts:
                cls.start_daemons(h)
        except BaseException:
            cls.c.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        for procs in cls.daemons.values():
            for p in procs:
                p.terminate()
                p.wait(timeout=20)
        cls.consul.stop()
        cls.c.cleanup()

    @classmethod
    def env(cls, host):
        return cls.c.env(host)

    @classmethod
    def start_daemons(cls, host):
        log = open(os.path.join(cls.t.tmpdir, f"daemons-{host.name}.log"), "a")
        cls.daemons[host.name] = [
            cls.t.popen(host, find_binary("overlay"), "watch", env=cls.env(host), stdout=log, stderr=log),
            cls.t.popen(host, find_binary("overlay-resolver"), env=cls.env(host), stdout=log, stderr=log)]
        log.close()

    @classmethod
    def daemon_log(cls, host):
        with open(os.path.join(cls.t.tmpdir, f"daemons-{host.name}.log")) as f:
            return f.read()

    def assert_daemons_alive(self):
        for h in self.hosts:
            for p in self.daemons[h.name]:
                self.assertIsNone(p.poll(), f"a daemon on {h.name} died: {self.daemon_log(h)[-2000:]}")

    # --- plugin calls ------------------------------------------------------------------------------
    def call(self, host, command, c, cid, netns="", ifname="eth0", args="", binary="overlay"):
        return run_plugin(self.t, host, binary, command, c, cid, netns, ifname, cni_args=args,
                          extra_env=self.env(host))

    def attach(self, host, c, cid, name=None):
        netns = self.t.add_container(host, f"{cid}-{host.name}")
        args = f"IgnoreUnknown=1;K8S_POD_NAME={name}" if name else ""
        rc, res, out, err = self.call(host, "ADD", c, cid, netns, args=args)
        self.assertEqual(rc, 0, f"ADD {cid} on {host.name}: {out} {err[-2000:]}")
        self.addCleanup(self.call, host, "DEL", c, cid)
        return netns, res

    def keys(self, part=""):
        return [k for k in self.consul.kv_keys(f"{PREFIX}/") if part in k]

    def query(self, netns, name):
        p = self.t.run(netns, "drill", name, "A", "@127.0.0.11", check=False, timeout=20)
        return re.findall(r"^\S+\s+\d+\s+IN\s+A\s+(\S+)$", p.stdout, re.M)

    # --- the failures ----------------------------------------------------------------------
    def test_1_same_container_id_on_three_hosts(self):
        """ctr run --cni gives <namespace>-<name> on every host: three hosts, one ID, three addresses."""
        c = conf("same", "10.31.0.0/24")
        got = {h.name: self.attach(h, c, "default-web") for h in self.hosts}
        ips = [ip_of(res) for _, res in got.values()]
        self.assertEqual(len(set(ips)), 3, f"one container ID on three hosts got {ips}")
        # One L2 segment: the three containers' MACs (seeded by host, container ID and interface) differ too,
        # as the result reports them and as the kernel holds them.
        macs = [next(i["mac"] for i in res["interfaces"] if i.get("sandbox")) for _, res in got.values()]
        self.assertEqual(len(set(macs)), 3, f"one container ID on three hosts got MACs {macs}")
        inside = [json.loads(self.t.run(netns, "ip", "-j", "link", "show", "eth0").stdout)[0]["address"]
                  for netns, _ in got.values()]
        self.assertEqual(inside, macs)
        owners = sorted(k.split("/")[-3] for k in self.keys("/ipam/same/owners/"))
        self.assertEqual(owners, ["h1", "h2", "h3"])
        leases = {json.loads(self.consul.kv_get(f"{PREFIX}/ipam/same/leases/{ip}"))["host"]: ip for ip in ips}
        self.assertEqual(leases, {h: ip_of(got[h][1]) for h in got})
        # h2's DEL frees h2's lease only; h1 and h3 keep theirs and still reach each other.
        rc, _, out, err = self.call(self.hosts[1], "DEL", c, "default-web")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(sorted(json.loads(self.consul.kv_get(k))["host"] for k in self.keys("/ipam/same/leases/")),
                         ["h1", "h3"])
        self.assertTrue(self.t.ping(got["h1"][0], ip_of(got["h3"][1]), count=1, timeout=3))

    def test_2_gc_without_valid_attachments_is_refused(self):
        c = conf("gcq", "10.32.0.0/24")
        netns, res = self.attach(self.hosts[0], c, "g1")
        before = sorted(self.keys("gcq"))
        gc_confs = {
            "overlay": dict(c, cniVersion="1.1.0"),
            "overlay-ipam": {"cniVersion": "1.1.0", "name": "gcq",
                             "ipam": {"type": "overlay-ipam", "subnet": "10.32.0.0/24", "store": "consul"}},
            "gwbridge": {"cniVersion": "1.1.0", "name": "gcq", "type": "gwbridge"},
        }
        for binary, cfg in gc_confs.items():
            rc, res2, out, err = run_plugin(self.t, self.hosts[0], binary, "GC", cfg, None, None, None,
                                            extra_env=self.env(self.hosts[0]))
            self.assertNotEqual(rc, 0, f"{binary}: {out}")
            self.assertEqual(res2["code"], 7, f"{binary}: {out}")
            self.assertIn("cni.dev/valid-attachments", res2["msg"], binary)
        self.assertEqual(sorted(self.keys("gcq")), before, "nothing removed from the store")
        self.assertTrue(self.t.ping(netns, ip_of(res), count=1))
        # An empty list is a list: GC with it removes the attachment.
        rc, _, out, err = run_plugin(self.t, self.hosts[0], "overlay", "GC",
                                     dict(c, cniVersion="1.1.0", **{"cni.dev/valid-attachments": []}), None, None,
                                     None, extra_env=self.env(self.hosts[0]))
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(self.keys("/attachments/gcq/") + self.keys("/ipam/gcq/leases/"), [])

    def test_3_gc_of_one_network_keeps_the_other_networks_leases_in_a_shared_pool(self):
        a = conf("sha", "10.33.0.0/24", pool="shared33")
        b = conf("shb", "10.33.0.0/24", pool="shared33")
        h1 = self.hosts[0]
        _, ra = self.attach(h1, a, "a1")
        _, rb = self.attach(h1, b, "b1")
        leases = {k.rsplit("/", 1)[-1]: json.loads(self.consul.kv_get(k)) for k in self.keys("/ipam/shared33/leases/")}
        self.assertEqual({ip: l["network"] for ip, l in leases.items()}, {ip_of(ra): "sha", ip_of(rb): "shb"})
        gc = dict(a, cniVersion="1.1.0", **{"cni.dev/valid-attachments": []})
        rc, _, out, err = run_plugin(self.t, h1, "overlay", "GC", gc, None, None, None, extra_env=self.env(h1))
        self.assertEqual(rc, 0, out + err)
        left = [k.rsplit("/", 1)[-1] for k in self.keys("/ipam/shared33/leases/")]
        self.assertEqual(left, [ip_of(rb)], "GC of network sha freed network shb's lease")
        self.assertEqual(len(self.keys("/attachments/shb/h1/b1/")), 1)

    def test_4_ipam_without_store_under_overlay_uses_the_cluster_store(self):
        c = {"cniVersion": "1.0.0", "name": "nostore", "type": "overlay",
             "ipam": {"type": "overlay-ipam", "subnet": "10.34.0.0/24"}}
        ips = [ip_of(self.attach(h, c, f"n{h.name}")[1]) for h in self.hosts]
        self.assertEqual(len(set(ips)), 3, f"hosts on one L2 segment handed out {ips}")
        self.assertEqual(sorted(k.rsplit("/", 1)[-1] for k in self.keys("/ipam/nostore/leases/")), sorted(ips))

    def test_5_a_deeply_nested_value_in_any_record_crashes_nothing(self):
        c = conf("deep", "10.35.0.0/24")
        h1, h2 = self.hosts[0], self.hosts[1]
        n1, r1 = self.attach(h1, c, "d1", name="deepone")
        n2, _ = self.attach(h2, c, "d2", name="deeptwo")
        bomb = "[" * 180000 + "]" * 180000  # about 360 KB
        # The member last: it wakes the watchers of "deep", which then read the others.
        planted = [f"{PREFIX}/cluster", f"{PREFIX}/attachments/deep/evil/x/eth0", f"{PREFIX}/hosts/evil",
                   f"{PREFIX}/ipam/deep/leases/10.35.0.250", f"{PREFIX}/ipam/deep/owners/evil/x/eth0",
                   f"{PREFIX}/networks/poisoned/config", f"{PREFIX}/alive/evil", f"{PREFIX}/networks/deep/members/evil"]
        marker = self.consul.kv_get(f"{PREFIX}/cluster")  # the store's identity: put back afterwards
        logged = {h.name: len(self.daemon_log(h)) for h in self.hosts}
        for k in planted:
            self.consul.kv_put(k, bomb)
        try:
            # Every daemon that reads a planted record reports it, naming its key, and keeps running: the
            # watchers of h1 and h2 (members, attachments) and their resolvers (attachments). The store's
            # identity is replaced by the first watcher that reads it: that one names it; the other may
            # find the new identity already there and then says the store changed.
            read_by_daemons = [f"{PREFIX}/networks/deep/members/evil", f"{PREFIX}/attachments/deep/evil/x/eth0"]
            marker_seen = lambda h: (f"record {PREFIX}/cluster " in self.daemon_log(h)[logged[h.name]:] or  # noqa: E731
                                     "the store does not hold what this host knows" in self.daemon_log(h)[logged[h.name]:])
            for h in (h1, h2):
                unnamed = lambda: ([k for k in read_by_daemons  # noqa: E731
                                    if f"record {k} " not in self.daemon_log(h)[logged[h.name]:]] +
                                   ([] if marker_seen(h) else [f"{PREFIX}/cluster"]))
                try:
                    poll(lambda: not unnamed(), 20, f"{h.name}'s daemons naming the planted records")
                except AssertionError as e:
                    raise AssertionError(f"{e}: {unnamed()}\n{self.daemon_log(h)[logged[h.name]:][-3000:]}") from None
            # Every watcher follows the store's identity, so the first to replace it may be any host's.
            self.assertTrue(any(f"record {PREFIX}/cluster " in self.daemon_log(h)[logged[h.name]:] for h in self.hosts),
                            "no watcher named the unreadable store identity it replaced")
            self.assertTrue(json.loads(self.consul.kv_get(f"{PREFIX}/cluster")).get("id"),
                            "the store identity was not replaced by a readable one")
            self.assert_daemons_alive()
            # The network keeps working: a new ADD, names, and pings across hosts.
            n3, r3 = self.attach(h1, c, "d3", name="deepthree")
            self.assertEqual(poll(lambda: self.query(n2, "deepthree"), 5, "deepthree resolving on h2"), [ip_of(r3)])
            self.assertTrue(self.t.ping(n2, ip_of(r1), count=1, timeout=3))
            # A network whose definition is unreadable fails ADD clearly and quickly.
            netns = self.t.add_container(h1, "poisoned")
            started = time.monotonic()
            rc, res, out, err = self.call(h1, "ADD", conf("poisoned", "10.36.0.0/24"), "p1", netns)
            self.assertNotEqual(rc, 0)
            self.assertEqual(res["code"], 6, out)
            self.assertIn("networks/poisoned/config", res["msg"])
            self.assertIn("nested more than 64 levels", res["msg"])
            self.assertLess(time.monotonic() - started, scaled(10))
            self.assertEqual(self.keys("/ipam/poisoned/"), [], "the refused ADD leased nothing")
            # overlayctl reports the bad records and goes on.
            p = self.t.run(h1, find_binary("overlayctl"), "network", "ls", env=self.env(h1), check=False)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("deep", p.stdout)
            p = self.ctl(h1, "hosts")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn(f"record {PREFIX}/hosts/evil ", p.stderr)
            self.assert_daemons_alive()
        finally:
            for k in planted:
                self.consul.kv_delete(k)
            if marker is not None:
                self.consul.kv_put(f"{PREFIX}/cluster", marker)

    def ctl(self, host, *argv):
        return self.t.run(host, find_binary("overlayctl"), *argv, env=self.env(host), check=False)

    def test_6_a_host_posing_as_another_is_refused(self):
        c = conf("pose", "10.38.0.0/24")
        h1, h3 = self.hosts[0], self.hosts[2]
        self.attach(h1, c, "p1")
        claim = json.loads(self.consul.kv_get(f"{PREFIX}/hosts/h1"))
        with open("/etc/machine-id") as f:  # machine ID and network namespace: hosts simulated on one machine differ
            self.assertEqual(claim["vtep"], h1.ip)
            self.assertRegex(claim["machineID"], "^" + re.escape(f.read().strip()) + r"@ns\d+$")
        impostor = os.path.join(self.t.tmpdir, "node-impostor.json")
        with open(impostor, "w") as f:
            json.dump({"store": self.consul.store_url, "hostName": "h1", "advertise": "eth0",
                       "stateDir": os.path.join(self.t.tmpdir, "state-impostor")}, f)
        before = sorted(self.keys())
        netns = self.t.add_container(h3, "impostor")
        rc, res, out, err = run_plugin(self.t, h3, "overlay", "ADD", c, "p2", netns, "eth0",
                                       extra_env={"OVL_NODE_CONFIG": impostor})
        self.assertNotEqual(rc, 0, out)
        self.assertEqual(res["code"], 7, out)
        self.assertIn(f"host name 'h1' is claimed by machine {claim['machineID']} with VTEP {h1.ip}", res["msg"])
        self.assertRegex(res["msg"], rf"and this is machine \S+@ns\d+ with VTEP {re.escape(h3.ip)}")
        self.assertEqual(sorted(self.keys()), before, "the refused ADD wrote to the store")
        self.assertNotIn("eth0", self.t.run(netns, "ip", "-o", "link").stdout, "the refused ADD made a veth")
        vni = json.loads(self.consul.kv_get(f"{PREFIX}/networks/pose/config"))["vni"]
        self.assertNotIn(f"ovx-{vni}", self.t.run(h3, "ip", "-o", "link").stdout, "the refused ADD made devices")

    def test_7_a_dead_host_is_evicted_and_only_then(self):
        c = conf("evict", "10.39.0.0/24")
        h4 = self.h4
        log = open(os.path.join(self.t.tmpdir, "watch-h4.log"), "a")
        watcher = self.t.popen(h4, find_binary("overlay"), "watch", env=self.env(h4), stdout=log, stderr=log)
        log.close()
        try:
            _, r4 = self.attach(h4, c, "e4")
            _, r1 = self.attach(self.hosts[0], c, "e1")
            poll(lambda: self.consul.kv_get(f"{PREFIX}/alive/h4") is not None, 15, "h4's liveness key")
            hosts = {h["host"]: h for h in json.loads(self.ctl(self.hosts[0], "hosts", "--json").stdout)}
            self.assertTrue(hosts["h4"]["alive"])
            p = self.ctl(self.hosts[0], "hosts", "evict", "h4")
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("host 'h4' is alive", p.stderr)
            self.assertTrue(any("/h4" in k for k in self.keys()), "a refused eviction removed records")
        finally:
            watcher.terminate()  # the host "dies": its watcher releases its session on the way out
            stopping = time.monotonic()
            watcher.wait(timeout=30)
        # SIGTERM ends the watcher's blocking query (libcurl's progress callback), not its 10 s wait.
        self.assertLess(time.monotonic() - stopping, scaled(3), "overlay watch took too long to stop")
        poll(lambda: self.consul.kv_get(f"{PREFIX}/alive/h4") is None, 15, "h4's liveness key to go")
        self.assertFalse({h["host"]: h for h in json.loads(self.ctl(self.hosts[0], "hosts", "--json").stdout)}
                         ["h4"]["alive"])
        # Its session is gone, but so it would be for a host that runs no watcher and still has containers:
        # records written moments ago keep it from eviction, unless the operator says it is dead.
        before = sorted(self.keys())
        p = self.ctl(self.hosts[0], "hosts", "evict", "h4")
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertRegex(p.stderr, r"host 'h4' runs no watcher, but wrote its claim or an attachment \d+ s ago")
        self.assertIn("--force", p.stderr)
        self.assertEqual(sorted(self.keys()), before, "a refused eviction removed records")
        p = self.ctl(self.hosts[0], "hosts", "evict", "h4", "--force")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # The health record stays after a clean stop (the report goes); eviction removes it with its address.
        self.assertIn("evicted h4: 1 attachments, 1 claims, 1 health records, 1 leases, 1 memberships, "
                      "1 owner indexes", p.stdout)
        self.assertEqual([k for k in self.keys() if "/h4" in k or k.endswith(f"/leases/{ip_of(r4)}")], [])
        self.assertEqual([k for k in self.keys() if "/health/addrs/" in k
                          and self.consul.kv_get(k) == "h4"], [], "h4's health address stays claimed")
        self.assertIsNotNone(self.consul.kv_get(f"{PREFIX}/ipam/evict/leases/{ip_of(r1)}"), "h1's lease stays")
        self.assertIsNotNone(self.consul.kv_get(f"{PREFIX}/networks/evict/members/h1"))

    def test_8_a_host_whose_vtep_address_changes_keeps_its_name_and_its_peers(self):
        c = conf("vtep", "10.40.0.0/24")
        h1, h4 = self.hosts[0], self.h4
        log = open(os.path.join(self.t.tmpdir, "watch-h4.log"), "a")
        watcher = self.t.popen(h4, find_binary("overlay"), "watch", env=self.env(h4), stdout=log, stderr=log)
        log.close()
        old, new = h4.ip, "198.51.100.24"
        try:
            n4, r4 = self.attach(h4, c, "v4")
            n1, _ = self.attach(h1, c, "v1")
            self.assertTrue(self.t.ping(n1, ip_of(r4), count=1, timeout=3))
            # Deleting the primary address first: a secondary would go with it unless promote_secondaries is on.
            self.t.run(h4, "ip", "addr", "del", f"{old}/24", "dev", "eth0")
            self.t.run(h4, "ip", "addr", "add", f"{new}/24", "dev", "eth0")
            vni = json.loads(self.consul.kv_get(f"{PREFIX}/networks/vtep/config"))["vni"]

            def moved():
                member = json.loads(self.consul.kv_get(f"{PREFIX}/networks/vtep/members/h4") or "{}")
                shown = self.t.run(h4, "ip", "-j", "-d", "link", "show", f"ovx-{vni}", check=False)
                if shown.returncode != 0:
                    return False  # being recreated
                vx = json.loads(shown.stdout)[0]
                fdb = self.t.run(h1, "bridge", "fdb", "show", "dev", f"ovx-{vni}").stdout
                return (member.get("vtep") == new and vx["linkinfo"]["info_data"].get("local") == new
                        and f"dst {new}" in fdb and f"dst {old}" not in fdb)
            # The watcher sees the new address at its next wake-up: its blocking query, on a connection from the
            # old address, ends at its wait plus the request timeout (15 s); the next one goes from the new address.
            try:
                poll(moved, 40, "h4's member record, VXLAN device and h1's flood list to follow the new VTEP")
            except AssertionError as e:
                with open(os.path.join(self.t.tmpdir, "watch-h4.log")) as f:
                    raise AssertionError(f"{e}: member {self.consul.kv_get(f'{PREFIX}/networks/vtep/members/h4')}, "
                                         f"h1 fdb {self.t.run(h1, 'bridge', 'fdb', 'show', 'dev', f'ovx-{vni}').stdout}"
                                         f"\nwatcher: {f.read()[-2500:]}") from None
            self.assertEqual(json.loads(self.consul.kv_get(f"{PREFIX}/hosts/h4"))["vtep"], new, "the claim follows")
            self.assertTrue(self.t.ping(n1, ip_of(r4), count=1, timeout=3))
        finally:
            self.t.run(h4, "ip", "addr", "del", f"{new}/24", "dev", "eth0", check=False)
            self.t.run(h4, "ip", "addr", "add", f"{old}/24", "dev", "eth0", check=False)
            watcher.terminate()
            watcher.wait(timeout=30)

    def test_9_consul_restarted_empty_hosts_put_back_what_they_hold(self):
        """10 live containers on 3 hosts, Consul restarted empty, then 10 more ADDs: no address twice, every
        name resolves, every lease, attachment and definition back in the store. h3 runs no watcher: its
        next ADD restores its records."""
        c = conf("rest", "10.37.0.0/24")
        live = {}
        for i in range(10):
            h = self.hosts[i % 3]
            live[f"r{i}"] = (h,) + self.attach(h, c, f"r{i}", name=f"rname{i}")
        vni = json.loads(self.consul.kv_get(f"{PREFIX}/networks/rest/config"))["vni"]
        # Not the cursors, nor the change marker (it only wakes watchers; nothing reads its value).
        keys_before = sorted(k for k in self.keys() if "/rest/" in k and "/cursor/" not in k
                             and not k.endswith("/rest/changed") or k.endswith(f"/vnis/{vni}"))
        h3 = self.hosts[2]
        for p in self.daemons[h3.name][:1]:  # h3's watcher stops; its resolver keeps running
            p.terminate()
            p.wait(timeout=20)
        try:
            self.consul.restart()
            # h1's and h2's watchers write again within milliseconds (health reports, the records they put
            # back); only an allocation writes a cursor, and none runs until the ADDs below.
            self.assertEqual(self.keys("/cursor/"), [], "the -dev server came back empty")
            h3_leases = {f"/leases/{ip_of(res)}" for h, _, res in live.values() if h is h3}
            theirs = [k for k in keys_before if "/h3/" not in k and not k.endswith("/members/h3")
                      and not any(k.endswith(x) for x in h3_leases)]
            missing = lambda: [k for k in theirs if self.consul.kv_get(k) is None]  # noqa: E731
            try:
                poll(lambda: not missing(), 15, "the watchers of h1 and h2 putting back their records")
            except AssertionError as e:
                raise AssertionError(f"{e}: {missing()}\n{self.daemon_log(self.hosts[0])[-3000:]}") from None
            # 10 more ADDs, h3 first (its ADD restores h3's records before handing out anything).
            new = {}
            for i in range(10):
                h = self.hosts[(2 - i) % 3]
                new[f"s{i}"] = (h,) + self.attach(h, c, f"s{i}", name=f"sname{i}")
            ips = [ip_of(v[2]) for v in list(live.values()) + list(new.values())]
            self.assertEqual(len(set(ips)), 20, f"an address was handed out twice: {sorted(ips)}")
            keys_after = set(self.keys())
            self.assertEqual([k for k in keys_before if k not in keys_after], [], "records not put back")
            self.assertEqual(json.loads(self.consul.kv_get(f"{PREFIX}/networks/rest/config"))["vni"], vni)
            # Every host floods to exactly the other members: no watcher removed a member that had not yet
            # restored its record, and h3 (no watcher) got the others back through its ADDs.
            vteps = {h.name: h.ip for h in self.hosts}
            for h in self.hosts:
                self.assert_flood(h, vni, sorted(ip for name, ip in vteps.items() if name != h.name))
            # Names resolve again, from every host (each host's resolver), and old and new containers reach
            # each other.
            probes = {h.name: next(v[1] for v in new.values() if v[0] is h) for h in self.hosts}
            for where, probe in probes.items():
                for cid, (h, netns, res) in live.items():
                    self.assertEqual(poll(lambda: self.query(probe, f"rname{cid[1:]}"), 5,
                                          f"rname{cid[1:]} resolving on {where}"), [ip_of(res)])
            for cid in ("r0", "r1", "r2"):
                self.assertTrue(self.t.ping(probes["h2"], ip_of(live[cid][2]), count=1, timeout=3), cid)
            # A host that held nothing of the network before the restart joins it: the old members' watchers
            # reach it, and it reaches them.
            h1, h4 = self.hosts[0], self.h4
            n4, r4 = self.attach(h4, c, "t4")
            self.assertTrue(poll(lambda: self.t.ping(live["r0"][1], ip_of(r4), count=1, timeout=1), 15,
                                 "h1's container reaching h4's new container"))
            self.assert_flood(h4, vni, sorted(vteps.values()))
            for h in self.hosts[:2]:  # h3 runs no watcher: its ADDs add what they read, nothing follows later
                self.assert_flood(h, vni, sorted([ip for name, ip in vteps.items() if name != h.name] + [h4.ip]))
        finally:
            self.start_daemons_watch_only(h3)

    def flood(self, host, vni):
        """The VTEPs host floods to on the network's VXLAN device (00:00:00:00:00:00 entries), sorted."""
        fdb = json.loads(self.t.run(host, "bridge", "-j", "fdb", "show", "dev", f"ovx-{vni}").stdout)
        return sorted(e["dst"] for e in fdb if e.get("mac") == "00:00:00:00:00:00" and "dst" in e)

    def assert_flood(self, host, vni, want):
        try:
            poll(lambda: self.flood(host, vni) == want, 15, f"{host.name}'s flood list to be {want}")
        except AssertionError as e:
            raise AssertionError(f"{e}: it is {self.flood(host, vni)}") from None

    # Named test_9a/9b so that they run after test_9 (h4 is test_7's host to evict: it must hold nothing else).
    def test_9a_add_keeps_flood_entries_it_did_not_read(self):
        """ADD adds the members it read to the flood list and removes nothing: an entry the watcher added for a
        member that joined after the ADD read the members must survive. h4 runs no watcher, so only ADDs touch
        its flood list here."""
        c = conf("addonly", "10.41.0.0/24")
        h1, h4 = self.hosts[0], self.h4
        self.attach(h4, c, "k1")
        vni = json.loads(self.consul.kv_get(f"{PREFIX}/networks/addonly/config"))["vni"]
        unread = "198.51.100.77"  # as if h4's watcher had just added a member this ADD will not read
        self.t.run(h4, "bridge", "fdb", "append", "00:00:00:00:00:00", "dev", f"ovx-{vni}", "dst", unread)
        self.attach(h1, c, "k2")
        self.attach(h4, c, "k3")  # reads the members: h1 and h4
        self.assertEqual(self.flood(h4, vni), sorted([h1.ip, unread]), "an ADD removed a flood entry")

    def test_9b_one_broken_network_does_not_stop_the_watcher_for_the_others(self):
        """Followed (h1's running watcher) and in one pass over every network (`overlay watch --once` on h4,
        which runs no watcher: only that pass can add h2 to its flood list)."""
        h1, h2, h4 = self.hosts[0], self.hosts[1], self.h4
        a, b = conf("wfa", "10.42.0.0/24"), conf("wfb", "10.43.0.0/24")
        self.attach(h1, a, "fa1")
        _, rb1 = self.attach(h1, b, "fb1")
        self.attach(h4, a, "fa4")
        self.attach(h4, b, "fb4")
        vni_b = json.loads(self.consul.kv_get(f"{PREFIX}/networks/wfb/config"))["vni"]
        key = f"{PREFIX}/networks/wfa/config"
        good = self.consul.kv_get(key)
        logged = len(self.daemon_log(h1))
        self.consul.kv_put(key, json.dumps(dict(json.loads(good), vni=0)))  # valid JSON, a VNI out of range
        try:
            # wfa sorts first: the watcher meets it before wfb on every pass.
            poll(lambda: key in self.daemon_log(h1)[logged:], 20, "h1's watcher reporting wfa's record")
            # wfb still converges: a host joining it reaches h1's flood list, which only h1's watcher updates.
            n2, _ = self.attach(h2, b, "fb2")
            self.assert_flood(h1, vni_b, sorted([h2.ip, h4.ip]))
            self.assertTrue(poll(lambda: self.t.ping(n2, ip_of(rb1), count=1, timeout=1), 10, "fb2 reaching fb1"))
            self.assert_daemons_alive()
            self.assertEqual(self.flood(h4, vni_b), [h1.ip], "h4's ADD read h1 only")
            p = self.t.run(h4, find_binary("overlay"), "watch", "--once", env=self.env(h4), check=False, timeout=60)
            self.assertNotEqual(p.returncode, 0, "a failed network must fail --once")
            self.assertIn(key, p.stdout + p.stderr)
            self.assertEqual(self.flood(h4, vni_b), sorted([h1.ip, h2.ip]), p.stdout + p.stderr)
        finally:
            self.consul.kv_put(key, good)

    @classmethod
    def start_daemons_watch_only(cls, host):
        log = open(os.path.join(cls.t.tmpdir, f"daemons-{host.name}.log"), "a")
        cls.daemons[host.name][0] = cls.t.popen(host, find_binary("overlay"), "watch", env=cls.env(host),
                                                stdout=log, stderr=log)
        log.close()


if __name__ == "__main__":
    unittest.main()
