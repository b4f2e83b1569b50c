#!/usr/bin/env python3
"""How long a write takes to reach a blocking query, by who answers it (consul.watchReads, docs/scale.md 4g).

A 3-server Consul in network namespaces (198.51.100.2-4), nothing else running. For each mode, N times: a
blocking query waits on a key (on a follower with ?stale, on a follower forwarded to the leader, on the
leader itself), the key is written on the leader, and the query's return is timed from just before the
write (the figures include the write's own HTTP round trip, some 15 ms from Python here).

    sudo python3 bench/consul_lag.py [--n 20]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from ovltest.consul import ConsulCluster  # noqa: E402
from ovltest.netns import Topology  # noqa: E402


def index_of(t, host, url):
    out = t.run(host, "curl", "-s", "-D", "-", "-o", "/dev/null", url, check=False).stdout
    return int(next(l for l in out.splitlines() if l.lower().startswith("x-consul-index")).split(":")[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    o = ap.parse_args()
    t = Topology()
    t.start()
    try:
        cs = [t.add_host(f"cs{i}", f"198.51.100.{1 + i}/24") for i in range(1, 4)]
        cl = ConsulCluster(t, cs)
        lh = cl.leader()
        leader = cl.server(lh)
        fh = next(h for h in cs if h.name != lh.name)
        leader.kv_put("lagtest", "0")
        for mode, host, q in (("follower, ?stale", fh, "&stale"), ("follower, forwarded to the leader", fh, ""),
                              ("leader", lh, "")):
            ip = cl.server(host).ip
            lags = []
            for i in range(o.n):
                # The leader's index: a follower's may lag behind it, and a query from it return at once.
                idx = index_of(t, lh, f"http://{leader.ip}:8500/v1/kv/lagtest")
                url = f"http://{ip}:8500/v1/kv/lagtest?index={idx}&wait=10s{q}"
                p = t.popen(host, "sh", "-c", f"curl -s -o /dev/null '{url}'; date +%s.%N", stdout=subprocess.PIPE,
                            text=True)
                time.sleep(0.3)  # the query is waiting
                t0 = time.time()
                leader.kv_put("lagtest", str(i + 1))
                t1 = float(p.stdout.read().strip())
                p.wait()
                lags.append((t1 - t0) * 1000)
                time.sleep(0.3)  # the follower has applied this write before the next index is read
            print(f"{mode}: median {statistics.median(lags):.1f} ms, min {min(lags):.1f}, max {max(lags):.1f} "
                  f"(n={o.n})", flush=True)
    finally:
        t.cleanup()


if __name__ == "__main__":
    main()
