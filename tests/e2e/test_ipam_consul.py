"""overlay-ipam with leases in a real Consul (started and stopped here), on hosts made of namespaces.

Key layout checked here: <prefix>/ipam/<pool>/leases/<ip>, .../owners/<host>/<containerID>/<ifname>,
.../cursor/<N> (see ipam/README-keys.md).
"""

import concurrent.futures
import json
import os
import re
import shutil
import time
import unittest

from ovltest import ConsulServer, Topology, find_binary, root_snapshot, run_plugin
from ovltest.plugins import plugin_env
from ovltest.timing import scaled

PREFIX = "overlay-cni/ipam"


def conf(store, pool, ranges=None, version="1.1.0", consul=None, **extra):
    ipam = {"type": "overlay-ipam", "store": store,
            "ranges": ranges or [[{"subnet": "10.60.0.0/24"}]]}
    if consul:
        ipam["consul"] = consul
    c = {"cniVersion": version, "name": pool, "type": "overlay", "ipam": ipam}
    c.update(extra)
    return c


def ips_of(res):
    return [ip["address"] for ip in (res or {}).get("ips", [])]


def attempts(stderr):
    m = re.search(r"\(attempts (\d+)\)", stderr)
    return int(m.group(1)) if m else None


class ConsulStoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root_before = root_snapshot()
        cls.topo = t = Topology().start()
        try:
            cls.cs = t.add_host("cs")
            cls.hosts = [t.add_host(f"h{i}") for i in (1, 2, 3)]
            cls.node = {}
            for h in cls.hosts:
                path = os.path.join(t.tmpdir, f"node-{h.name}.json")
                with open(path, "w") as f:
                    json.dump({"hostName": h.name, "stateDir": os.path.join(t.tmpdir, f"state-{h.name}")}, f)
                cls.node[h.name] = path
            cls.consul = ConsulServer(t, cls.cs, cls.cs.ip)
        except BaseException:
            t.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.topo.cleanup()
        assert root_snapshot() == cls.root_before, "the root network namespace changed"

    def ipam(self, host, command, c, cid, ifname="eth0", cni_args="", env=None):
        e = {"OVL_NODE_CONFIG": self.node[host.name], "OVL_LOG_LEVEL": "info"}
        e.update(env or {})
        netns = "" if command == "DEL" else ("/var/run/netns/none" if cid else None)
        return run_plugin(self.topo, host, "overlay-ipam", command, c, cid, netns, ifname if cid else None,
                          cni_args=cni_args, extra_env=e)

    def keys(self, pool, server=None):
        return (server or self.consul).kv_keys(f"{PREFIX}/{pool}/")

    # ------------------------------------------------------------------------------------------------
    def test_allocate_release_idempotent_check(self):
        h1 = self.hosts[0]
        ranges = [[{"subnet": "10.61.0.0/24"}], [{"subnet": "fd00:61::/64"}]]
        for v in ("0.3.1", "0.4.0", "1.0.0", "1.1.0"):
            with self.subTest(version=v):
                pool = "alloc-" + v.replace(".", "")
                c = conf(self.consul.store_url, pool, ranges, version=v, routes=None)
                rc, res, out, err = self.ipam(h1, "ADD", c, "ctr1")
                self.assertEqual(rc, 0, out + err)
                self.assertEqual(ips_of(res), ["10.61.0.2/24", "fd00:61::2/64"])
                self.assertEqual(attempts(err), 1)
                lease = json.loads(self.consul.kv_get(f"{PREFIX}/{pool}/leases/10.61.0.2"))
                self.assertEqual((lease["containerID"], lease["ifname"], lease["host"]), ("ctr1", "eth0", "h1"))
                self.assertRegex(lease["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
                self.assertEqual(json.loads(self.consul.kv_get(f"{PREFIX}/{pool}/owners/h1/ctr1/eth0")),
                                 ["10.61.0.2", "fd00:61::2"])
                self.assertEqual(self.consul.kv_get(f"{PREFIX}/{pool}/cursor/1"), "fd00:61::2")

                rc, res2, out, err = self.ipam(h1, "ADD", c, "ctr1")  # the same attachment again
                self.assertEqual((rc, ips_of(res2)), (0, ips_of(res)), out + err)
                rc, res3, out, err = self.ipam(h1, "ADD", c, "ctr2")
                self.assertEqual(ips_of(res3), ["10.61.0.3/24", "fd00:61::3/64"], out + err)

                if v >= "0.4.0":
                    rc, _, out, err = self.ipam(h1, "CHECK", dict(c, prevResult=res), "ctr1")
                    self.assertEqual(rc, 0, out + err)
                    rc, bad, out, err = self.ipam(h1, "CHECK", dict(c, prevResult=res3), "ctr1")
                    self.assertEqual(rc, 1)
                    self.assertIn("missing from prevResult.ips", bad["msg"])
                for _ in range(2):
                    rc, _, out, err = self.ipam(h1, "DEL", c, "ctr1")
                    self.assertEqual(rc, 0, out + err)
                if v >= "0.4.0":
                    rc, gone, out, err = self.ipam(h1, "CHECK", dict(c, prevResult=res), "ctr1")
                    self.assertEqual(gone["code"], 3, out)
                self.assertEqual(self.ipam(h1, "DEL", c, "ctr2")[0], 0)
                self.assertEqual([k for k in self.keys(pool) if "/cursor/" not in k], [])

    def test_two_round_trips_per_add_and_no_listing(self):
        """Counts the HTTP requests the plugin writes (strace): ADD and DEL take two, none lists keys."""
        if not shutil.which("strace"):
            self.skipTest("strace is not installed")
        h1 = self.hosts[0]
        for name, ranges in (("rtt1", None), ("rtt2", [[{"subnet": "10.62.0.0/24"}], [{"subnet": "fd00:62::/64"}]])):
            c = conf(self.consul.store_url, name, ranges)
            self.assertEqual(self.ipam(h1, "ADD", c, "warm")[0], 0)  # the cursors exist from now on
            for command in ("ADD", "DEL"):
                trace = os.path.join(self.topo.tmpdir, f"strace-{name}-{command}")
                env = plugin_env(command, "r1", "" if command == "DEL" else "/var/run/netns/none", "eth0",
                                 extra_env={"OVL_NODE_CONFIG": self.node["h1"]})
                argv = ["strace", "-f", "-qq", "-e", "trace=sendto,write", "-s", "96", "-o", trace,
                        find_binary("overlay-ipam")]
                p = self.topo.run(h1, *argv, input=json.dumps(c), check=False,
                                  env={k: v for k, v in env.items() if k.startswith(("CNI_", "OVL_"))})
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                with open(trace) as f:
                    requests = re.findall(r'"(GET|PUT|DELETE) (/v1/[^ ]*) HTTP', f.read())
                with self.subTest(ranges=name, command=command):
                    self.assertEqual(len(requests), 2, requests)
                    self.assertFalse([r for r in requests if "recurse" in r[1] or "keys" in r[1]], requests)

    def test_gc_is_scoped_to_one_host(self):
        h1, h2, _ = self.hosts
        c = conf(self.consul.store_url, "gc")
        for h, cid in ((h1, "a1"), (h1, "a2"), (h1, "a3"), (h2, "b1")):
            self.assertEqual(self.ipam(h, "ADD", c, cid)[0], 0)
        gc = dict(c)
        gc["cni.dev/valid-attachments"] = [{"containerID": "a1", "ifname": "eth0"}]
        rc, _, out, err = self.ipam(h1, "GC", gc, None)
        self.assertEqual(rc, 0, out + err)
        owners = sorted(k.rsplit("/", 2)[1] for k in self.keys("gc") if "/owners/" in k)
        self.assertEqual(owners, ["a1", "b1"], "h2's lease survives h1's GC")
        self.assertEqual(len([k for k in self.keys("gc") if "/leases/" in k]), 2)
        # h2 asking for h1's address is told who holds it.
        rc, res, out, err = self.ipam(h2, "ADD", c, "b2", cni_args="IP=10.60.0.2")
        self.assertEqual(res["code"], 101, out)
        self.assertEqual(res["msg"], "requested address 10.60.0.2 is in use by container a1 (eth0) on host h1")
        self.assertEqual([k for k in self.keys("gc") if k.endswith("/owners/b2/eth0")], [])

    def test_unreachable_consul_fails_fast_with_code_11(self):
        h1 = self.hosts[0]
        for addr in (f"{self.cs.ip}:8599", "198.51.100.199:8500"):  # port closed; no host at all
            with self.subTest(addr=addr):
                c = conf("consul://" + addr, "down", consul={"connectTimeoutMs": 500})
                t0 = time.monotonic()
                rc, res, out, err = self.ipam(h1, "ADD", c, "u1")
                self.assertLess(time.monotonic() - t0, scaled(8))
                self.assertEqual(res["code"], 11, out)
                self.assertIn("http://" + addr, res["msg"])
                rc, res, out, err = self.ipam(h1, "STATUS", c, None)
                self.assertEqual(res["code"], 50, out)
                self.assertIn("http://" + addr, res["msg"])

    def test_consul_stopped_status_and_journaled_del(self):
        h1 = self.hosts[0]
        server = ConsulServer(self.topo, h1, h1.ip, data_dir=True)  # keeps its data across a restart
        try:
            c = conf(server.store_url, "journal")
            self.assertEqual(self.ipam(h1, "STATUS", c, None)[0], 0)
            rc, res, out, err = self.ipam(h1, "ADD", c, "j1")
            self.assertEqual(rc, 0, out + err)
            server.stop()
            rc, res, out, err = self.ipam(h1, "STATUS", c, None)
            self.assertEqual(res["code"], 50, out)
            rc, res, out, err = self.ipam(h1, "ADD", c, "j2")
            self.assertEqual(res["code"], 11, out)
            # DEL while Consul is down succeeds and leaves the release in the journal.
            rc, _, out, err = self.ipam(h1, "DEL", c, "j1")
            self.assertEqual(rc, 0, out + err)
            jdir = os.path.join(self.topo.tmpdir, "state-h1", "journal")
            self.assertEqual(len(os.listdir(jdir)), 1)
            self.assertEqual(os.stat(os.path.join(jdir, os.listdir(jdir)[0])).st_mode & 0o777, 0o600)
            server.start()
            self.assertIsNotNone(server.kv_get(f"{PREFIX}/journal/owners/h1/j1/eth0"))
            rc, res, out, err = self.ipam(h1, "ADD", c, "j3")  # replays the release first
            self.assertEqual(rc, 0, out + err)
            self.assertEqual(os.listdir(jdir), [])
            self.assertIsNone(server.kv_get(f"{PREFIX}/journal/owners/h1/j1/eth0"))
            self.assertIsNone(server.kv_get(f"{PREFIX}/journal/leases/10.60.0.2"))
            self.assertEqual(ips_of(res), ["10.60.0.3/24"], "the freed address comes back last")
        finally:
            server.stop()

    def test_acl_default_deny(self):
        h1 = self.hosts[0]
        acl = ConsulServer(self.topo, self.hosts[1], self.hosts[1].ip, acl=True)
        try:
            rw = acl.create_token(key_prefix="overlay-cni/")
            ro = acl.create_token(key_prefix="overlay-cni/", policy="read")
            wrong = "00000000-1111-2222-3333-444444444444"
            for name, consul, want in (("none", None, "denied access"), ("wrong", {"token": wrong}, "denied access"),
                                       ("read-only", {"token": ro}, "needs key_prefix write")):
                with self.subTest(token=name):
                    rc, res, out, err = self.ipam(h1, "ADD", conf(acl.store_url, "acl", consul=consul), "x1",
                                                  env={"OVL_LOG_LEVEL": "debug"})
                    self.assertEqual(res["code"], 7, out)
                    self.assertIn(want, res["msg"])
                    for secret in (wrong, ro, acl.master_token):
                        self.assertNotIn(secret, out + err)
            token_file = os.path.join(self.topo.tmpdir, "acl-token")
            with open(token_file, "w") as f:
                f.write(rw + "\n")
            os.chmod(token_file, 0o600)
            # A network config names no file (issue 16): tokenFile is refused; its own token is its own.
            c = conf(acl.store_url, "acl", consul={"tokenFile": token_file})
            rc, res, out, err = self.ipam(h1, "ADD", c, "x1")
            self.assertEqual((rc, res["code"]), (1, 7), out)
            self.assertIn("ipam.consul.tokenFile", res["msg"])
            c = conf(acl.store_url, "acl", consul={"token": rw})
            rc, res, out, err = self.ipam(h1, "ADD", c, "x1", env={"OVL_LOG_LEVEL": "debug"})
            self.assertEqual((rc, ips_of(res)), (0, ["10.60.0.2/24"]), out + err)
            self.assertNotIn(rw, out + err)
            # The Consul CLI's environment works too, for the store it names (CONSUL_HTTP_ADDR).
            c_env = conf(acl.store_url, "acl")
            rc, _, out, err = self.ipam(h1, "DEL", c_env, "x1",
                                        env=acl.client_env(token=rw))
            self.assertEqual(rc, 0, out + err)
            self.assertEqual(acl.kv_keys(f"{PREFIX}/acl/owners/"), [])
            # And the node config shared with the other plugins: "store": "consul" takes its store and token.
            node = os.path.join(self.topo.tmpdir, "node-acl.json")
            with open(node, "w") as f:
                json.dump({"hostName": "h1", "store": acl.store_url, "consul": {"tokenFile": token_file}}, f)
            c_node = conf("consul", "acl")
            rc, res, out, err = self.ipam(h1, "ADD", c_node, "x2", env={"OVL_NODE_CONFIG": node})
            self.assertEqual((rc, ips_of(res)), (0, ["10.60.0.3/24"]), out + err)
            self.assertEqual(self.ipam(h1, "DEL", c_node, "x2", env={"OVL_NODE_CONFIG": node})[0], 0)
        finally:
            acl.stop()

    def test_tls(self):
        h3 = self.hosts[2]
        tls = ConsulServer(self.topo, h3, h3.ip, tls=True)
        try:
            rc, res, out, err = self.ipam(h3, "ADD", conf(tls.store_url, "tls"), "t1")
            self.assertEqual(res["code"], 7, out)
            self.assertIn("not trusted", res["msg"])
            c = conf(tls.store_url, "tls", consul={"caFile": tls.ca_file})  # no files in a network config
            rc, res, out, err = self.ipam(h3, "ADD", c, "t1")
            self.assertEqual((rc, res["code"]), (1, 7), out)
            self.assertIn("ipam.consul.caFile", res["msg"])
            rc, res, out, err = self.ipam(h3, "ADD", conf(tls.store_url, "tls"), "t1", env={"CONSUL_CACERT": tls.ca_file})
            self.assertEqual((rc, ips_of(res)), (0, ["10.60.0.2/24"]), out + err)
            rc, _, out, err = self.ipam(h3, "DEL", conf(tls.store_url, "tls"), "t1",
                                        env={"CONSUL_CACERT": tls.ca_file})
            self.assertEqual(rc, 0, out + err)
            self.assertEqual(tls.kv_keys(f"{PREFIX}/tls/leases/"), [])
        finally:
            tls.stop()

    def test_three_hosts_twenty_parallel_adds_each(self):
        c = conf(self.consul.store_url, "race", [[{"subnet": "10.70.0.0/24"}]])
        jobs = [(h, f"{h.name}-c{i}") for h in self.hosts for i in range(20)]

        def run(verb):
            with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs)) as ex:
                return list(ex.map(lambda j: self.ipam(j[0], verb, c, j[1]), jobs))

        t0 = time.monotonic()
        results = run("ADD")
        elapsed = time.monotonic() - t0
        for rc, res, out, err in results:
            self.assertEqual(rc, 0, out + err)
        addrs = [ips_of(r[1])[0] for r in results]
        self.assertEqual(len(set(addrs)), 60, addrs)
        tries = [attempts(r[3]) for r in results]
        first = sum(1 for n in tries if n == 1)
        retries = sum(tries) - 60
        print(f"\n  60 parallel ADDs from 3 hosts: {elapsed:.2f} s, {sum(tries)} transactions, "
              f"{60 / sum(tries):.0%} of CAS attempts succeeded ({first}/60 first attempts, "
              f"{60 - first}/{retries} retries), most attempts by one ADD: {max(tries)}")
        owners = [k for k in self.keys("race") if "/owners/" in k]
        self.assertEqual(len(owners), 60)
        for rc, res, out, err in run("DEL"):
            self.assertEqual(rc, 0, out + err)
        self.assertEqual([k for k in self.keys("race") if "/cursor/" not in k], [])


if __name__ == "__main__":
    unittest.main()
