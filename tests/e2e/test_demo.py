"""The main command's demo program (scripts/demo.py) runs end to end: exit 0 and every step PASS (issue 6).

scripts/demo.sh is the user-facing command (setup, build, then demo.py); here the build is ctest's, so the
program runs directly with OVL_BIN_DIR. About 30 s.
"""

import os
import re
import subprocess
import sys
import time
import unittest

from ovltest.netns import root_snapshot
from ovltest.plugins import OVL_BIN_DIR, OVL_SRC_DIR
from ovltest.timing import scaled

DEMO = os.path.join(OVL_SRC_DIR, "scripts", "demo.py")
STEP = re.compile(r"^  (\S.*?) \.{2,} (PASS|FAIL|SKIP)$")


class Demo(unittest.TestCase):
    def test_demo_passes_every_step(self):
        before = root_snapshot()
        start = time.monotonic()
        p = subprocess.run([sys.executable, DEMO, "--bin-dir", OVL_BIN_DIR], capture_output=True, text=True,
                           timeout=240)
        wall = time.monotonic() - start
        print(p.stdout)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        self.assertNotIn("\033[", p.stdout)  # no colour when stdout is not a terminal
        steps = [STEP.match(l) for l in p.stdout.splitlines()]
        steps = [m.groups() for m in steps if m]
        self.assertGreaterEqual(len(steps), 15)
        self.assertEqual([s for s in steps if s[1] != "PASS"], [])
        self.assertRegex(p.stdout, rf"PASS: all {len(steps)} steps passed +wall time [\d.]+ s")
        # Measured facts, not canned text: VNIs, advertised addresses, RTTs, the NATed source.
        self.assertRegex(p.stdout, r"over +\d+ +10\.0\.0\.0/24")
        self.assertRegex(p.stdout, r"h2 +198\.51\.100\.12 ")
        self.assertRegex(p.stdout, r"rtt avg [\d.]+ ms")
        self.assertIn("the server saw the client as 198.51.100.11", p.stdout)
        self.assertRegex(p.stdout, r"ping bbox2 +-> +PING bbox2 \(10\.0\.0\.\d+\)")  # by name, across hosts
        self.assertRegex(p.stdout, r"bbox3 asks bbox1 +-> NXDOMAIN")
        self.assertLess(wall, scaled(120))
        # Nothing left behind: no namespaces of the run, root namespace unchanged.
        self.assertEqual(root_snapshot(), before)
        left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        self.assertEqual(re.findall(r"^\S+-h[123]-bbox\d+\b", left, re.M), [])  # the demo's containers

    def test_failure_exits_non_zero(self):
        # Without the binaries the demo refuses to start, with a clear message and a non-zero status.
        p = subprocess.run([sys.executable, DEMO, "--bin-dir", "/nonexistent"], capture_output=True, text=True,
                           timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("not found in /nonexistent", p.stderr)


if __name__ == "__main__":
    unittest.main()
