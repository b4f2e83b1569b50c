"""Median ADD and DEL time of overlay-ipam with 0 and 5,000 leases, file store and Consul, next to the
reference host-local. Prints the numbers; asserts only that every call succeeded (timings vary by
machine). Also runnable directly: OVL_BIN_DIR=build/bin python3 test_ipam_bench.py
"""

import base64
import json
import os
import statistics
import sys
import unittest

from ovltest import ConsulServer, Topology, find_binary, root_snapshot

RUNS = 21
LEASES = 5000
SUBNET = "10.80.0.0/16"

# Runs inside the host namespace so that `ip netns exec` is not part of what is timed.
RUNNER = r'''
import json, os, resource, subprocess, sys, time
conf, binary, verb, prefix, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
stdin = open(conf).read()
times, cpu = [], []
def used():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime
for i in range(n):
    env = dict(os.environ, CNI_COMMAND=verb, CNI_CONTAINERID=f"{prefix}{i}", CNI_IFNAME="eth0",
               CNI_NETNS="" if verb == "DEL" else "/var/run/netns/none", CNI_PATH="/usr/lib/cni")
    c0, t0 = used(), time.perf_counter()
    p = subprocess.run([binary], input=stdin, capture_output=True, text=True, env=env)
    times.append(time.perf_counter() - t0)
    cpu.append(used() - c0)
    if p.returncode != 0:
        print(json.dumps({"error": p.stdout + p.stderr}))
        sys.exit(1)
print(json.dumps({"times": times, "cpu": cpu}))
'''


def lease_ips(n):
    """The first n addresses handed out in SUBNET (.0.2 onwards: .0.1 is the gateway)."""
    return [f"10.80.{x // 256}.{x % 256}" for x in range(2, n + 2)]


class IpamBench(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root_before = root_snapshot()
        cls.topo = t = Topology().start()
        try:
            cls.cs = t.add_host("cs")
            cls.h1 = t.add_host("h1")
            cls.node = os.path.join(t.tmpdir, "node-h1.json")
            with open(cls.node, "w") as f:
                json.dump({"hostName": "h1", "stateDir": os.path.join(t.tmpdir, "state-h1")}, f)
            cls.runner = os.path.join(t.tmpdir, "runner.py")
            with open(cls.runner, "w") as f:
                f.write(RUNNER)
            cls.consul = ConsulServer(t, cls.cs, cls.cs.ip)
        except BaseException:
            t.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.topo.cleanup()
        assert root_snapshot() == cls.root_before, "the root network namespace changed"

    def timed(self, binary, conf, verb, prefix, n):
        path = os.path.join(self.topo.tmpdir, f"conf-{prefix}.json")
        with open(path, "w") as f:
            json.dump(conf, f)
        p = self.topo.run(self.h1, sys.executable, self.runner, path, find_binary(binary), verb, prefix, str(n),
                          env={"OVL_NODE_CONFIG": self.node}, check=False, timeout=600)
        out = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else {"error": p.stderr}
        self.assertIn("times", out, out.get("error"))
        return out

    def measure(self, label, binary, conf):
        self.timed(binary, conf, "ADD", "warm", 1)  # first call: directories, cursors, the owner index
        add = self.timed(binary, conf, "ADD", "b", RUNS)
        dele = self.timed(binary, conf, "DEL", "b", RUNS)
        med = lambda xs: statistics.median(xs) * 1000
        self.results.append((label, med(add["times"]), med(add["cpu"]), med(dele["times"]), med(dele["cpu"])))

    def fill_files(self, pool_dir, n):
        os.makedirs(pool_dir, exist_ok=True)
        ips = lease_ips(n)
        for i, ip in enumerate(ips):
            with open(os.path.join(pool_dir, ip), "w") as f:
                f.write(f"filler{i}\r\neth0")
        with open(os.path.join(pool_dir, "last_reserved_ip.0"), "w") as f:
            f.write(ips[-1])

    def fill_consul(self, pool, n):
        ips = lease_ips(n)
        base = f"overlay-cni/ipam/{pool}"
        b64 = lambda s: base64.b64encode(s.encode()).decode()
        for start in range(0, n, 32):
            ops = []
            for i in range(start, min(start + 32, n)):
                lease = json.dumps({"containerID": f"filler{i}", "ifname": "eth0", "host": "h9",
                                    "time": "2024-01-01T00:00:00Z"})
                ops.append({"KV": {"Verb": "set", "Key": f"{base}/leases/{ips[i]}", "Value": b64(lease)}})
                ops.append({"KV": {"Verb": "set", "Key": f"{base}/owners/filler{i}/eth0",
                                   "Value": b64(json.dumps([ips[i]]))}})
            self.consul.http("PUT", "/v1/txn", body=json.dumps(ops), timeout=30)
        self.consul.kv_put(f"{base}/cursor/0", ips[-1])
        self.assertEqual(len(self.consul.kv_keys(f"{base}/leases/")), n)

    def test_median_add_time(self):
        self.results = []
        d = os.path.join(self.topo.tmpdir, "data")
        for n in (0, LEASES):
            for binary, label in (("/usr/lib/cni/host-local", "host-local"), ("overlay-ipam", "overlay-ipam file")):
                pool = f"{'hl' if binary.startswith('/') else 'ov'}{n}"
                if n:
                    self.fill_files(os.path.join(d, pool), n)
                conf = {"cniVersion": "1.0.0", "name": pool, "type": "x",
                        "ipam": {"type": "x", "subnet": SUBNET, "dataDir": d}}
                self.measure(f"{label}, {n} leases", binary, conf)
            pool = f"consul{n}"
            if n:
                self.fill_consul(pool, n)
            conf = {"cniVersion": "1.0.0", "name": pool, "type": "x",
                    "ipam": {"type": "overlay-ipam", "subnet": SUBNET, "store": self.consul.store_url}}
            self.measure(f"overlay-ipam consul, {n} leases", "overlay-ipam", conf)
        print(f"\n  median of {RUNS} calls, each a new process (wall time; CPU time of the plugin process);"
              f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs:")
        print(f"  {'':34} {'ADD ms':>8} {'(cpu)':>7} {'DEL ms':>8} {'(cpu)':>7}")
        for label, add, addc, dele, delc in self.results:
            print(f"  {label:34} {add:8.2f} {addc:7.2f} {dele:8.2f} {delc:7.2f}")


if __name__ == "__main__":
    unittest.main()
