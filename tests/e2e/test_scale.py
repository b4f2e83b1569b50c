"""End-to-end: the short form of the scale scenario (issue 18), bench/scale.py at 12 hosts and 120 containers.

Twelve simulated hosts, each with its own node config, `overlay watch`, `overlay-resolver` and helper, a
3-server Consul, three networks; 120 containers added in parallel bursts of 12 (one per host), 20% deleted
and added again, then every one deleted. The figures are printed (the full run is `scripts/bench.sh
--only S`); this module asserts what must hold at any size:
- every live address is distinct, after the bursts and after the churn;
- every sampled first contact works: a ping from an old member of the network on another host gets a
  reply, and the new name resolves there at 127.0.0.11 (about 20 samples);
- nothing is left after the last DEL: no container keys in Consul (memberships, attachments, leases, owner
  indexes), no links, FDB or neighbour entries of ours on any host;
- every plugin call succeeded, every watcher and resolver stayed up, the root namespace is unchanged.
About a minute here; deadlines follow OVL_TIME_SCALE.
"""

import os
import sys
import time
import unittest

from ovltest.netns import root_snapshot
from ovltest.timing import scaled
from rtlib import SRC_DIR, require_binaries
from ovltest.plugins import OVL_BIN_DIR

sys.path.insert(0, os.path.join(SRC_DIR, "bench"))

import scale  # noqa: E402
import scale_render  # noqa: E402


class ScaleShort(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_binaries("overlay", "overlay-ipam", "overlay-resolver")
        cls.root_before = root_snapshot()
        o = scale.options(["--bin", OVL_BIN_DIR, "--hosts", "12", "--containers", "120", "--networks", "3",
                           "--burst", "12", "--probe-share", "0.2", "--idle", "6", "--steady", "4", "--rest", "2",
                           "--probe-timeout", str(scaled(10))])
        t0 = time.monotonic()
        cls.res = scale.Scenario(o).run()
        cls.secs = time.monotonic() - t0
        print(f"\n{scale_render.text(cls.res)}\nscale scenario: {cls.secs:.0f} s", file=sys.stderr)

    def test_1_every_call_succeeded(self):
        failed = [op for op in self.res["ops"] if not op["ok"]]
        self.assertEqual(failed, [], "plugin calls failed")

    def test_2_addresses_are_distinct(self):
        for key in ("addresses", "addresses_after_churn"):
            a = self.res["extra"][key]
            self.assertEqual(a["duplicates"], [], key)
            self.assertEqual(a["live"], a["distinct"], key)
        self.assertEqual(self.res["extra"]["addresses"]["live"], 120)

    def test_3_sampled_first_contacts_work(self):
        probed = [op for op in self.res["ops"] if op.get("probe")]
        self.assertGreaterEqual(len(probed), 15, "too few samples")
        no_ping = [(op["cid"], op["host"], op["observer"]) for op in probed if op["probe"].get("ping") is None]
        no_name = [(op["cid"], op["host"], op["observer"]) for op in probed if op["probe"].get("dns") is None]
        self.assertEqual(no_ping, [], "first ping from an old member on another host got no reply")
        self.assertEqual(no_name, [], "the new name did not resolve on another host")

    def test_4_nothing_left_after_del(self):
        left = self.res["extra"]["leftovers"]
        self.assertEqual(left["keys"], [], "container keys left in Consul")
        self.assertEqual(left["hosts"], {}, "links, FDB or neighbour entries left on hosts")

    def test_5_figures_are_complete(self):
        f = self.res["figures"]
        for key in ("add_ms", "del_ms", "convergence_ms", "names_ms"):
            self.assertTrue(all(v == v for v in f[key]), key)  # not NaN: every phase produced samples
        self.assertGreater(f["requests_per_add"], 0)
        self.assertGreater(f["flood_per_host"][0], 0)
        self.assertEqual(set(self.res["phases"]),
                         {"idle-add", "idle-del", "add", "foreign", "rest", "steady", "churn-del", "churn-add", "del"})

    def test_6_root_namespace_unchanged(self):
        self.assertEqual(root_snapshot(), self.root_before)


if __name__ == "__main__":
    unittest.main()
