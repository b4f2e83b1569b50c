"""Benchmark: median gwbridge ADD and DEL times, without and with two port mappings (printed; a generous
bound). ctest label `bench`: scripts/bench.sh runs it, scripts/test.sh leaves it out. It reuses the
topology of test_gwbridge (hosts, router, "internet" host, per-host IPAM data directories).

    OVL_GW_TIMING_RUNS=15   calls per figure
"""

import os
import statistics
import sys
import time
import unittest

import test_gwbridge as gw
from ovltest.timing import scaled


def setUpModule():
    gw.setUpModule()


def tearDownModule():
    gw.tearDownModule()


class GwbridgeTiming(unittest.TestCase):
    def test_add_del_timing(self):
        """Median ADD and DEL times, without and with two port mappings (printed; generous bound)."""
        E = gw.E
        n = int(os.environ.get("OVL_GW_TIMING_RUNS", "15"))
        report = {}
        for label, ports in (("no ports", None),
                             ("2 ports", [{"hostPort": 8280, "containerPort": 80},
                                          {"hostPort": 8281, "containerPort": 81, "protocol": "udp"}])):
            conf = E.conf("gwt", E.h1, ports=ports)
            netns = E.t.add_container(E.h1, f"t{len(report)}")
            adds, dels = [], []
            for i in range(n):
                cid = f"t{i}-{E.t.prefix}"
                t0 = time.monotonic()
                _, res, _, _ = E.plugin(E.h1, "ADD", conf, cid, netns)
                t1 = time.monotonic()
                E.plugin(E.h1, "DEL", conf, cid, netns, prev=res)
                t2 = time.monotonic()
                adds.append(t1 - t0)
                dels.append(t2 - t1)
            report[label] = (statistics.median(adds) * 1000, statistics.median(dels) * 1000)
            self.assertLess(statistics.median(adds), scaled(1.0))
            self.assertLess(statistics.median(dels), scaled(1.0))
        base = []
        for _ in range(n):
            t0 = time.monotonic()
            E.t.run(E.h1, "true")
            base.append(time.monotonic() - t0)
        b = statistics.median(base) * 1000
        for label, (a, d) in report.items():
            print(f"\ngwbridge {label}: median ADD {a:.1f} ms, DEL {d:.1f} ms over {n} runs, including the "
                  f"IPAM plugin and `ip netns exec` (itself {b:.1f} ms)", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
