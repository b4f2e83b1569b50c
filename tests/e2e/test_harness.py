"""Checks the e2e harness itself: namespaces, underlay MTU, router/internet, Consul, cleanup."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from ovltest import ConsulCluster, ConsulServer, Topology, root_snapshot, run_plugin, sh

HERE = os.path.dirname(os.path.abspath(__file__))


def our_namespaces(prefix):
    return [l.split()[0] for l in sh("ip", "netns", "list").stdout.splitlines() if l.startswith(prefix + "-")]


class TopologyTest(unittest.TestCase):
    def setUp(self):
        self.root_before = root_snapshot()

    def tearDown(self):
        self.assertEqual(self.root_before, root_snapshot(), "the root network namespace changed")

    def test_underlay_mtu_router_internet_and_cleanup(self):
        with Topology() as t:
            h1 = t.add_host("h1", "198.51.100.1/24", mtu=1400)
            h2 = t.add_host("h2", "198.51.100.2/24", mtu=1400)
            self.assertTrue(t.ping(h1, h2.ip))
            self.assertTrue(t.ping(h1, h2.ip, size=1372, df=True), "1372+28 bytes fit MTU 1400")
            self.assertFalse(t.ping(h1, h2.ip, size=1373, df=True), "1373+28 bytes exceed MTU 1400")
            self.assertIn('"mtu":1400', t.run(h2, "ip", "-j", "link", "show", "eth0").stdout.replace(" ", ""))

            inet = t.add_internet()
            h3 = t.add_host("h3")  # added after the router: gets the default route too
            for h in (h1, h3):
                self.assertTrue(t.ping(h, inet.ip), f"{h.name} reaches the internet host")
                self.assertIn("default via 198.51.100.254", t.run(h, "ip", "route").stdout)

            c1 = t.add_container(h1, "c1")
            self.assertEqual(c1, f"/run/netns/{t.prefix}-h1-c1")
            self.assertTrue(os.path.exists(c1))
            links = json.loads(t.run(c1, "ip", "-j", "link").stdout)
            self.assertEqual([l["ifname"] for l in links], ["lo"])

            sleeper = t.popen(h2, "sleep", "300")
            prefix = t.prefix
            self.assertTrue(prefix.startswith("o") and len(prefix) == 5)
            self.assertGreaterEqual(len(our_namespaces(prefix)), 7)
        self.assertEqual(our_namespaces(prefix), [])
        self.assertIsNotNone(sleeper.poll(), "background process killed at cleanup")
        self.assertFalse(os.path.exists(os.path.join("/run/ovltest", prefix)))

    def test_cleanup_on_failure_inside_context(self):
        with self.assertRaises(RuntimeError):
            with Topology() as t:
                t.add_host("h1")
                prefix = t.prefix
                raise RuntimeError("boom")
        self.assertEqual(our_namespaces(prefix), [])

    def _child_cleanup_on_signal(self, sig):
        code = f"""
import sys, time
sys.path.insert(0, {HERE!r})
from ovltest import Topology
t = Topology().start()
h = t.add_host("h1")
t.popen(h, "sleep", "300")
print(t.prefix, flush=True)
with t:
    time.sleep(60)
"""
        p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(p.stdout.close)
        self.addCleanup(p.stderr.close)
        prefix = p.stdout.readline().strip()
        self.assertTrue(prefix)
        self.assertTrue(our_namespaces(prefix))
        pids = sh("ip", "netns", "pids", f"{prefix}-h1").stdout.split()
        self.assertTrue(pids)
        p.send_signal(sig)
        p.wait(timeout=30)
        self.assertEqual(our_namespaces(prefix), [])
        for pid in pids:
            self.assertFalse(os.path.exists(f"/proc/{pid}"), f"process {pid} survived cleanup")

    def test_stale_state_dirs_are_swept(self):
        """The default stateDir's ns-<inode> entries of namespaces that are gone go at the next run's start;
        those of live namespaces (here the test's own) stay."""
        from ovltest.netns import DEFAULT_STATE_DIR, sweep_stale
        dead = os.path.join(DEFAULT_STATE_DIR, "ns-4294967290")  # no namespace has this inode
        live = os.path.join(DEFAULT_STATE_DIR, f"ns-{os.stat('/proc/self/ns/net').st_ino}")
        keep = not os.path.isdir(live)
        for d in (dead, live):
            os.makedirs(d, exist_ok=True)
        try:
            with open(os.path.join(dead, "over.vni"), "w") as f:
                f.write("42\n")
            sweep_stale()
            self.assertFalse(os.path.exists(dead))
            self.assertTrue(os.path.isdir(live))
        finally:
            if keep:
                os.rmdir(live)

    def test_cleanup_on_sigterm(self):
        self._child_cleanup_on_signal(signal.SIGTERM)

    def test_cleanup_on_ctrl_c(self):
        self._child_cleanup_on_signal(signal.SIGINT)

    def test_run_plugin_with_reference_bridge(self):
        with Topology() as t, tempfile.TemporaryDirectory() as data:
            h1 = t.add_host("h1")
            c1 = t.add_container(h1, "c1")
            conf = {"cniVersion": "1.0.0", "name": "hn", "type": "bridge", "bridge": "hbr0", "isGateway": True,
                    "ipam": {"type": "host-local", "dataDir": data, "ranges": [[{"subnet": "10.88.0.0/24"}]]}}
            rc, res, out, err = run_plugin(t, h1, "bridge", "VERSION", conf, None, None, None)
            self.assertEqual(rc, 0, err)
            self.assertIn("1.0.0", res["supportedVersions"])
            rc, res, out, err = run_plugin(t, h1, "bridge", "ADD", conf, "ctr1", c1, "eth0")
            self.assertEqual(rc, 0, out + err)
            ip = res["ips"][0]["address"].split("/")[0]
            self.assertTrue(t.ping(h1, ip))
            rc, res, out, err = run_plugin(t, h1, "bridge", "DEL", conf, "ctr1", "", "eth0")
            self.assertEqual(rc, 0, out + err)
            rc, res, out, err = run_plugin(t, h1, "bridge", "ADD", {"cniVersion": "1.0.0"}, "ctr1", c1, "eth0")
            self.assertNotEqual(rc, 0)
            self.assertIn("code", res)


class ConsulHarnessTest(unittest.TestCase):
    def setUp(self):
        self.root_before = root_snapshot()

    def tearDown(self):
        self.assertEqual(self.root_before, root_snapshot(), "the root network namespace changed")

    def test_dev_server_acl_tls(self):
        with Topology() as t:
            cs = t.add_host("cs", "198.51.100.100/24")
            consul = ConsulServer(t, cs, cs.ip)
            self.assertEqual(consul.addr, "http://198.51.100.100:8500")
            self.assertTrue(consul.kv_put("overlay-cni/a", "hello"))
            self.assertEqual(consul.kv_get("overlay-cni/a"), "hello")
            self.assertEqual(consul.kv_keys("overlay-cni/"), ["overlay-cni/a"])
            self.assertIsNone(consul.kv_get("overlay-cni/missing"))
            consul.restart()
            self.assertIsNone(consul.kv_get("overlay-cni/a"), "-dev restarts empty")
            consul.stop()
            self.assertFalse(consul.running())

            ca = t.add_host("ca")
            acl = ConsulServer(t, ca, ca.ip, acl=True)
            token = acl.create_token(key_prefix="overlay-cni/")
            self.assertTrue(acl.kv_put("overlay-cni/x", "1", token=token))
            status, _ = acl.http("PUT", "/v1/kv/other/x", body="1", token=token, check=False)
            self.assertEqual(status, 403)
            status, _ = acl.http("GET", "/v1/kv/overlay-cni/x", token=None, check=False)
            self.assertEqual(status, 403, "default deny without a token")

            ct = t.add_host("ct")
            tls = ConsulServer(t, ct, ct.ip, tls=True)
            self.assertTrue(tls.addr.startswith("https://"))
            self.assertTrue(tls.kv_put("k", "v"))
            self.assertEqual(tls.kv_get("k"), "v")

    def test_persistent_server_keeps_data(self):
        with Topology() as t:
            cs = t.add_host("cs")
            consul = ConsulServer(t, cs, cs.ip, data_dir=True)
            consul.kv_put("p/k", "v")
            consul.restart()
            self.assertEqual(consul.kv_get("p/k"), "v")

    def test_cluster_failover(self):
        with Topology() as t:
            hosts = [t.add_host(f"s{i}") for i in range(1, 4)]
            cluster = ConsulCluster(t, hosts)
            leader = cluster.leader()
            self.assertIn(leader, hosts)
            any_server = cluster.any_running()
            any_server.kv_put("c/k", "v")
            cluster.kill(leader)
            start = time.monotonic()
            new = cluster.wait_leader(timeout=30, exclude=leader)
            self.assertNotEqual(new.name, leader.name)
            self.assertEqual(cluster.server(new).kv_get("c/k"), "v")
            print(f"\nnew leader after {time.monotonic() - start:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
