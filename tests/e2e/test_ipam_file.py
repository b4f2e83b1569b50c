"""overlay-ipam with the file store, against the reference host-local (/usr/lib/cni/host-local).

Every plugin runs inside a host namespace of a harness topology, with dataDir in a temporary folder.
"""

import concurrent.futures
import json
import os
import shutil
import tempfile
import unittest

from ovltest import Topology, root_snapshot, run_plugin

HOST_LOCAL = "/usr/lib/cni/host-local"
VERSIONS = ["0.3.1", "0.4.0", "1.0.0", "1.1.0"]


def conf(ipam, name="net1", version="1.0.0", **extra):
    c = {"cniVersion": version, "name": name, "type": "overlay", "ipam": dict(ipam)}
    c.update(extra)
    return c


def ips_of(res):
    return [ip["address"] for ip in (res or {}).get("ips", [])]


def disk_state(pool_dir):
    """{file: content} of a pool directory, without our owner index."""
    out = {}
    for n in sorted(os.listdir(pool_dir)):
        p = os.path.join(pool_dir, n)
        if n in ("lock", ".owners") or os.path.isdir(p):
            continue
        with open(p, "rb") as f:
            out[n] = f.read()
    return out


class FileStoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root_before = root_snapshot()
        cls.topo = Topology().start()
        cls.h1 = cls.topo.add_host("h1")
        cls.node = os.path.join(cls.topo.tmpdir, "node-h1.json")
        with open(cls.node, "w") as f:
            json.dump({"hostName": "h1", "stateDir": os.path.join(cls.topo.tmpdir, "state-h1")}, f)

    @classmethod
    def tearDownClass(cls):
        cls.topo.cleanup()
        assert root_snapshot() == cls.root_before, "the root network namespace changed"

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ipam-file-", dir=self.topo.tmpdir)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_ipam(self, binary, command, c, cid, ifname="eth0", cni_args="", netns="/var/run/netns/none"):
        env = {"OVL_NODE_CONFIG": self.node}
        if command == "DEL":
            netns = ""
        return run_plugin(self.topo, self.h1, binary, command, c, cid, netns, ifname, cni_args=cni_args,
                          extra_env=env)

    def ours(self, command, c, cid, **kw):
        return self.run_ipam("overlay-ipam", command, c, cid, **kw)

    def ref(self, command, c, cid, **kw):
        return self.run_ipam(HOST_LOCAL, command, c, cid, **kw)

    # ------------------------------------------------------------------------------------------------
    def test_add_check_del_del_every_version(self):
        for v in VERSIONS:
            with self.subTest(version=v):
                c = conf({"type": "overlay-ipam", "subnet": "10.10.0.0/24", "dataDir": self.tmp,
                          "routes": [{"dst": "0.0.0.0/0"}]}, version=v)
                rc, res, out, err = self.ours("ADD", c, "ctr-" + v)
                self.assertEqual(rc, 0, out + err)
                self.assertEqual(res["cniVersion"], v)
                self.assertEqual(len(res["ips"]), 1)
                self.assertEqual(res["ips"][0]["gateway"], "10.10.0.1")
                self.assertEqual(res["routes"], [{"dst": "0.0.0.0/0"}])
                self.assertNotIn("interfaces", res)
                if v < "1.0.0":
                    self.assertEqual(res["ips"][0]["version"], "4")
                lease = res["ips"][0]["address"].split("/")[0]
                path = os.path.join(self.tmp, "net1", lease)
                with open(path, "rb") as f:
                    self.assertEqual(f.read(), f"ctr-{v}\r\neth0".encode())
                if v >= "0.4.0":
                    c2 = dict(c, prevResult=res)
                    rc, _, out, err = self.ours("CHECK", c2, "ctr-" + v)
                    self.assertEqual(rc, 0, out + err)
                    rc, res2, out, _ = self.ours("CHECK", c2, "other")
                    self.assertNotEqual(rc, 0)
                    self.assertEqual(res2["code"], 3, out)
                for _ in range(2):
                    rc, _, out, err = self.ours("DEL", c, "ctr-" + v)
                    self.assertEqual(rc, 0, out + err)
                self.assertFalse(os.path.exists(path))

    def test_same_addresses_as_host_local(self):
        """The same configurations and requests through both plugins give the same results and files."""
        # (ipam, a static address valid in it). Requests that fail are left out on purpose: host-local
        # leases dynamic addresses before it notices an unusable static one, which moves its cursor.
        configs = {
            "legacy": ({"subnet": "10.20.0.0/28", "rangeStart": "10.20.0.3", "rangeEnd": "10.20.0.9"}, "10.20.0.8"),
            "gateway-inside": ({"ranges": [[{"subnet": "10.21.0.0/28", "gateway": "10.21.0.5"}]]}, "10.21.0.12"),
            "dual-stack": ({"ranges": [[{"subnet": "10.22.0.0/29"}, {"subnet": "10.22.1.0/29"}],
                                       [{"subnet": "fd00:22::/125"}]]}, "10.22.1.4"),
        }
        for name, (ipam, static) in configs.items():
            steps = [("ADD", "c1", ""), ("ADD", "c2", ""), ("ADD", "c3", ""), ("DEL", "c2", ""),
                     ("ADD", "c4", ""), ("ADD", "c5", "IP=" + static), ("ADD", "c6", ""), ("DEL", "c1", "")]
            steps += [("ADD", f"f{i}", "") for i in range(14)]  # wrap around, then run out
            steps += [("DEL", "f3", ""), ("ADD", "g1", ""), ("ADD", "g2", "")]
            with self.subTest(config=name):
                results = {}
                for binary, run in (("host-local", self.ref), ("overlay-ipam", self.ours)):
                    d = os.path.join(self.tmp, binary, name)
                    c = conf(dict(ipam, type=binary, dataDir=d))
                    trace, snapshots = [], []
                    for i, (verb, cid, args) in enumerate(steps):
                        rc, res, out, err = run(verb, c, cid, cni_args=args)
                        trace.append((verb, cid, rc == 0, ips_of(res) if verb == "ADD" and rc == 0 else None))
                        if i == 7:  # before the pool runs out: lease files and cursors
                            snapshots.append(disk_state(os.path.join(d, "net1")))
                    # At the end, lease files only: a failed ADD moves host-local's cursors, not ours.
                    final = disk_state(os.path.join(d, "net1"))
                    snapshots.append({k: v for k, v in final.items() if not k.startswith("last_reserved_ip")})
                    results[binary] = (trace, snapshots)
                self.maxDiff = None
                self.assertEqual(results["host-local"][0], results["overlay-ipam"][0])
                self.assertEqual(results["host-local"][1], results["overlay-ipam"][1])
                self.assertTrue(any(ok for _, _, ok, _ in results["host-local"][0][8:]), "some ADD after wrap")
                self.assertFalse(all(ok for _, _, ok, _ in results["host-local"][0]), "the pool ran out")

    def test_leases_of_host_local_are_honoured_both_ways(self):
        ipam = {"subnet": "10.30.0.0/24", "dataDir": self.tmp}
        hl, ov = conf(dict(ipam, type="host-local")), conf(dict(ipam, type="overlay-ipam"))
        got = {}
        for cid in ("h1", "h2", "h3"):
            rc, res, out, err = self.ref("ADD", hl, cid)
            self.assertEqual(rc, 0, out + err)
            got[cid] = ips_of(res)
        self.assertEqual(got["h3"], ["10.30.0.4/24"])
        rc, _, _, _ = self.ref("DEL", hl, "h2")  # frees .3; host-local's cursor stays at .4

        # overlay-ipam continues after host-local's cursor, returns host-local's lease on a repeated ADD,
        # refuses a static address host-local handed out (naming the holder), and releases its leases.
        rc, res, out, err = self.ours("ADD", ov, "o1")
        self.assertEqual((rc, ips_of(res)), (0, ["10.30.0.5/24"]), out + err)
        rc, res, out, err = self.ours("ADD", ov, "h3")
        self.assertEqual((rc, ips_of(res)), (0, ["10.30.0.4/24"]), out + err)
        rc, res, out, err = self.ours("ADD", ov, "o2", cni_args="IP=10.30.0.2")
        self.assertEqual(rc, 1)
        self.assertEqual(res["code"], 101)
        self.assertIn("10.30.0.2 is in use by container h1 (eth0)", res["msg"])
        self.assertEqual(self.ours("DEL", ov, "h1")[0], 0)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "net1", "10.30.0.2")))

        # And back: host-local sees overlay-ipam's leases, continues after its cursor, releases them.
        rc, res, out, err = self.ref("ADD", hl, "h4")
        self.assertEqual((rc, ips_of(res)), (0, ["10.30.0.6/24"]), out + err)
        rc, res, out, err = self.ref("ADD", hl, "o1")
        self.assertNotEqual(rc, 0, "host-local refuses a second lease for o1")
        self.assertEqual(self.ref("DEL", hl, "o1")[0], 0)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "net1", "10.30.0.5")))
        # overlay-ipam notices host-local's changes (index rebuilt) and agrees with the files.
        rc, res, out, err = self.ours("ADD", ov, "h4")
        self.assertEqual((rc, ips_of(res)), (0, ["10.30.0.6/24"]), out + err)
        rc, res, out, err = self.ours("ADD", ov, "o1")
        self.assertEqual((rc, ips_of(res)), (0, ["10.30.0.7/24"]), out + err)

    def test_parallel_adds_with_host_local_on_the_same_pool(self):
        """Both plugins take the same lock: 20 + 10 parallel ADDs give 30 distinct leases, all indexed."""
        ipam = {"subnet": "10.35.0.0/24", "dataDir": self.tmp}
        jobs = [(self.ours, conf(dict(ipam, type="overlay-ipam")), f"o{i}") for i in range(20)]
        jobs += [(self.ref, conf(dict(ipam, type="host-local")), f"h{i}") for i in range(10)]
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs)) as ex:
            results = list(ex.map(lambda j: j[0]("ADD", j[1], j[2]), jobs))
        for rc, res, out, err in results:
            self.assertEqual(rc, 0, out + err)
        addrs = [ips_of(r[1])[0] for r in results]
        self.assertEqual(len(set(addrs)), 30, addrs)
        # overlay-ipam finds host-local's leases by its index and releases them.
        ov = conf(dict(ipam, type="overlay-ipam"))
        for i in range(10):
            rc, res, out, err = self.ours("ADD", ov, f"h{i}")
            self.assertEqual((rc, ips_of(res)), (0, ips_of(results[20 + i][1])), out + err)
        for _, _, cid in jobs:
            self.assertEqual(self.ours("DEL", ov, cid)[0], 0)
        self.assertEqual([n for n in os.listdir(os.path.join(self.tmp, "net1")) if n.startswith("10.")], [])
        self.assertEqual(os.listdir(os.path.join(self.tmp, "net1", ".owners")), [])

    def test_static_addresses_errors_and_rollback(self):
        ipam = {"type": "overlay-ipam", "dataDir": self.tmp,
                "ranges": [[{"subnet": "10.40.0.0/24"}], [{"subnet": "fd00:40::/64"}]]}
        c = conf(ipam, args={"cni": {"ips": ["fd00:40::10"]}}, runtimeConfig={"ips": ["10.40.0.10/24"]},
                 capabilities={"ips": True})
        rc, res, out, err = self.ours("ADD", c, "s1")
        self.assertEqual((rc, ips_of(res)), (0, ["10.40.0.10/24", "fd00:40::10/64"]), out + err)
        # Taken in the second range set: nothing is left leased from the first one.
        rc, res, out, err = self.ours("ADD", conf(ipam), "s2", cni_args="IP=10.40.0.20,fd00:40::10")
        self.assertEqual(res["code"], 101, out)
        self.assertIn("fd00:40::10 is in use by container s1 (eth0) on host h1", res["msg"])
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "net1", "10.40.0.20")))
        for args, code, text in (("IP=10.99.0.1", 7, "10.99.0.1 is outside every configured range"),
                                 ("IP=10.40.0.1", 7, "10.40.0.1 is the gateway"),
                                 ("IP=bogus", 4, "CNI_ARGS IP 'bogus' is not an IP address")):
            rc, res, out, err = self.ours("ADD", conf(ipam), "s3", cni_args=args)
            self.assertEqual((rc, res["code"]), (1, code), out)
            self.assertIn(text, res["msg"])
        bad = conf({"type": "overlay-ipam", "dataDir": self.tmp,
                    "ranges": [[{"subnet": "10.41.0.0/24", "rangeStart": "10.41.1.5"}]]})
        rc, res, out, err = self.ours("ADD", bad, "s4")
        self.assertEqual(res["code"], 7, out)
        self.assertEqual(res["msg"], "field 'ipam.ranges[0][0].rangeStart' 10.41.1.5 is outside subnet 10.41.0.0/24")

    def test_status_and_gc(self):
        ipam = {"type": "overlay-ipam", "dataDir": self.tmp,
                "ranges": [[{"subnet": "10.50.0.0/29"}]]}  # 5 addresses
        c = conf(ipam, version="1.1.0")
        self.assertEqual(self.ours("STATUS", c, None)[0], 0)
        for i in range(5):
            self.assertEqual(self.ours("ADD", c, f"g{i}")[0], 0)
        rc, res, out, err = self.ours("ADD", c, "g5")
        self.assertEqual(res["code"], 102, out)
        rc, res, out, err = self.ours("STATUS", c, None)
        self.assertEqual(res["code"], 50, out)
        self.assertIn("exhausted: 5 of 5", res["msg"])
        gc = dict(c)
        gc["cni.dev/valid-attachments"] = [{"containerID": "g1", "ifname": "eth0"},
                                           {"containerID": "g3", "ifname": "eth0"}]
        rc, _, out, err = run_plugin(self.topo, self.h1, "overlay-ipam", "GC", gc, None, None, None,
                                     extra_env={"OVL_NODE_CONFIG": self.node})
        self.assertEqual(rc, 0, out + err)
        leases = sorted(n for n in os.listdir(os.path.join(self.tmp, "net1")) if n.startswith("10."))
        self.assertEqual(leases, ["10.50.0.3", "10.50.0.5"])
        self.assertEqual(self.ours("STATUS", c, None)[0], 0)
        # The older key name is accepted too.
        gc = dict(c)
        gc["cni.dev/attachments"] = [{"containerID": "g3", "ifname": "eth0"}]
        self.assertEqual(run_plugin(self.topo, self.h1, "overlay-ipam", "GC", gc, None, None, None,
                                    extra_env={"OVL_NODE_CONFIG": self.node})[0], 0)
        leases = sorted(n for n in os.listdir(os.path.join(self.tmp, "net1")) if n.startswith("10."))
        self.assertEqual(leases, ["10.50.0.5"])


if __name__ == "__main__":
    unittest.main()
