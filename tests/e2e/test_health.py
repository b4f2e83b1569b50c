"""End-to-end: the health mesh of `overlay watch` (issue 19, "A health mesh").

Three simulated hosts with a container each on one network and a watcher each. Every watcher probes the
other members through the VXLAN path (reserved health VNI, UDP 4789, the allow-list, the underlay). The path
between h1 and h3 is then made to drop (an nftables rule on the underlay switch, UDP 4789 both ways): h1 and
h3 report the pair down within 5 s (Consul reports via `overlayctl hosts --json`, and their logs), h2's
pairs stay up, `overlayctl diag` on h1 names the pair; without the rule the pair is up again within 5 s.
"""

import json
import os
import time
import unittest

from ovltest.cleanup import run_all
from ovltest.plugins import find_binary, run_plugin
from rtlib import RtCluster

DROP = """table bridge ovl_test_health {{
  chain forward {{ type filter hook forward priority 0; policy accept;
    ip saddr {a} ip daddr {b} udp dport 4789 drop
    ip saddr {b} ip daddr {a} udp dport 4789 drop
  }}
}}
"""


class HealthMesh(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = RtCluster(nhosts=3)
        cls.t = cls.c.t
        cls.h1, cls.h2, cls.h3 = cls.c.hosts
        cls.conf = {"cniVersion": "1.0.0", "name": "hcnet", "type": "overlay",
                    "ipam": {"type": "overlay-ipam", "subnet": "10.60.0.0/24"}}
        cls.attached = []
        try:
            for i, h in enumerate(cls.c.hosts, 1):
                netns = cls.t.add_container(h, f"c{i}")
                cls.call(h, "ADD", f"c{i}", netns)
                cls.attached.append((h, f"c{i}"))
            cls.c.start_watchers()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        failed = run_all([lambda h=h, cid=cid: cls.call(h, "DEL", cid, "") for h, cid in cls.attached])
        cls.c.cleanup()
        if failed:
            raise failed[0]

    @classmethod
    def call(cls, host, command, cid, netns):
        rc, res, out, err = run_plugin(cls.t, host, "overlay", command, cls.conf, cid, netns, "eth0",
                                       extra_env=cls.c.env(host))
        if rc != 0:
            raise AssertionError(f"{command} {cid} on {host.name}: rc={rc} {out} {err[-2000:]}")
        return res

    def ctl(self, host, *args, rc=0):
        p = self.t.run(host, find_binary("overlayctl"), *args, env=self.c.env(host), check=False)
        if rc is not None and p.returncode != rc:
            raise AssertionError(f"overlayctl {' '.join(args)}: rc={p.returncode}\n{p.stdout}\n{p.stderr}")
        return p

    def pairs(self):
        """{(prober, peer): pair} from `overlayctl hosts --json` on h1."""
        out = {}
        for h in json.loads(self.ctl(self.h1, "hosts", "--json").stdout):
            for p in h.get("health", []):
                out[(h["host"], p["peer"])] = p
        return out

    def wait_for(self, what, pred, timeout):
        start = time.monotonic()
        while True:
            got = self.pairs()
            if pred(got):
                return time.monotonic() - start, got
            if time.monotonic() - start > timeout:
                self.fail(f"{what} not within {timeout} s: {json.dumps({f'{a}->{b}': p for (a, b), p in got.items()})}"
                          f"\n{self.logs()}")
            time.sleep(0.2)

    def log(self, host):
        with open(os.path.join(self.c.tmp, f"watch-{host}.log")) as f:
            return f.read()

    def logs(self):
        return "\n".join(f"--- {h.name}\n{self.log(h.name)[-1500:]}" for h in self.c.hosts)

    def state(self, got, a, b):
        p = got.get((a, b))
        return None if p is None else p["up"]

    ALL = [(a, b) for a in ("h1", "h2", "h3") for b in ("h1", "h2", "h3") if a != b]

    def test_pair_down_and_up_again(self):
        _, got = self.wait_for("every pair up", lambda g: all(self.state(g, a, b) and g[(a, b)]["largest"]
                                                               for a, b in self.ALL), 20)
        for a, b in self.ALL:
            self.assertGreater(got[(a, b)]["largest"], 1280, f"{a}->{b}: {got[(a, b)]}")
            self.assertEqual(got[(a, b)]["mtu"], 1350, f"{a}->{b}: network MTU (underlay 1400 - 50)")
        # No address of the health subnet in a host's own namespace (the isolation claim).
        for h in self.c.hosts:
            self.assertNotIn("100.64.255.", self.t.run(h, "ip", "-4", "addr").stdout)

        rule = DROP.format(a="198.51.100.11", b="198.51.100.13")
        h2_before = len(self.log("h2"))  # what h2 said while the watchers started is not about the cut
        self.t.run(self.t.switch, "nft", "-f", "-", input=rule)
        try:
            took, got = self.wait_for(
                "h1<->h3 down", lambda g: self.state(g, "h1", "h3") is False and self.state(g, "h3", "h1") is False, 5)
            for pair in [("h1", "h2"), ("h2", "h1"), ("h2", "h3"), ("h3", "h2")]:
                self.assertTrue(self.state(got, *pair), f"{pair} must stay up: {got.get(pair)}")
            self.assertIn("health: h1 -> h3 down (3 probes lost)", self.log("h1"))
            self.assertIn("health: h3 -> h1 down (3 probes lost)", self.log("h3"))
            self.assertNotIn("down", "".join(l for l in self.log("h2")[h2_before:].splitlines() if "health:" in l))
            diag = self.ctl(self.h1, "diag", "--json", rc=None)
            self.assertIn("health-pair-down", diag.stdout, diag.stdout + diag.stderr)
            self.assertIn("h1 -> h3", diag.stdout)
            self.assertNotIn("h1 -> h2", diag.stdout)
            print(f"\n  pair h1<->h3 reported down after {took:.1f} s", end=" ")
        finally:
            self.t.run(self.t.switch, "nft", "delete", "table", "bridge", "ovl_test_health")
        took, _ = self.wait_for(
            "h1<->h3 up again", lambda g: self.state(g, "h1", "h3") and self.state(g, "h3", "h1"), 5)
        self.assertIn("health: h1 -> h3 up again", self.log("h1"))
        print(f"up again after {took:.1f} s", end=" ")
        diag = self.ctl(self.h1, "diag", "--json", rc=None)
        self.assertNotIn("health-", diag.stdout)

    def test_path_below_network_mtu(self):
        """A report (planted) whose largest packet is below the network MTU: diag names the pair."""
        key = "overlay-cni/health/reports/h9"
        self.c.consul.kv_put(key, json.dumps({"host": "h9", "time": int(time.time()), "pairs": [
            {"peer": "h1", "up": True, "rttMs": 0.5, "largest": 1280, "mtu": 1350, "lost": 0, "since": 0}]}))
        try:
            diag = self.ctl(self.h1, "diag", "--json", rc=None)
            self.assertIn("health-path-mtu", diag.stdout, diag.stdout + diag.stderr)
            self.assertIn("h9 -> h1", diag.stdout)
        finally:
            self.c.consul.kv_delete(key)


if __name__ == "__main__":
    unittest.main()
