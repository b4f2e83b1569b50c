"""End-to-end: metrics (issue 19). Two hosts whose watchers serve /metrics on their underlay addresses, and a
real Prometheus server on a third host of the underlay scraping both.

After a known sequence of calls (ADD, CHECK, ADD, DEL, DEL again, and one ADD refused for its config) the
exported counts are exact, every histogram's buckets, _sum and _count agree with its counter, promtool
accepts the text, Prometheus' query API shows both hosts' series with the same values, and `overlayctl top`
shows the same figures. Each host also runs overlay-resolver (relaying to dnsmasq on the Prometheus host):
after known queries from a container its counts by rcode grew by exactly those; the nftables set elements
and rules per table equal what `nft -j` lists inside that host; the health mesh shows the other host up
with a round-trip time. A second cluster checks that an endpoint bound to loopback is not reachable from the
underlay, and that a bad metrics.listen stops the watcher with an error naming the field.
"""

import json
import os
import re
import time
import unittest
import urllib.parse

from ovltest.plugins import find_binary, run_plugin
from rtlib import RtCluster, require_tools

INVALID_CONFIG = 7
PORT = 9474
PROM = "198.51.100.20"
UPSTREAM = PROM  # dnsmasq, for the names the resolver relays


NETWORK = {}  # the overlay plugin's config as `overlayctl network create` prints it


def conf(**extra):
    return dict(NETWORK, cniVersion="1.0.0", name="metrics", **extra)


def parse_metrics(text):
    """{(name, frozenset(labels)): value} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)', line)
        assert m, f"unparsable line {line!r}"
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def series(metrics, name, **want):
    """{labels-dict-without-le: value} of the samples of `name` whose labels include `want`."""
    return {frozenset(l): v for (n, l), v in metrics.items()
            if n == name and all((k, v2) in l for k, v2 in want.items())}


class Metrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_tools("promtool", "prometheus", "curl", "drill", "dnsmasq", "nft")
        cls.c = RtCluster(nhosts=2)
        cls.addClassCleanup(cls.c.cleanup)
        cls.t, (cls.h1, cls.h2) = cls.c.t, cls.c.hosts
        cls.pm = cls.t.add_host("pm", f"{PROM}/24")
        cls.addr = {}
        for h in cls.c.hosts:
            with open(cls.c.node_cfg[h.name]) as f:
                node = json.load(f)
            cls.addr[h.name] = f"{h.cidr.split('/')[0]}:{PORT}"
            node["metrics"] = {"listen": cls.addr[h.name]}
            node["resolver"] = {"upstreams": [UPSTREAM]}
            with open(cls.c.node_cfg[h.name], "w") as f:
                json.dump(node, f)
        cls.t.popen(cls.pm, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                    "--bind-interfaces", f"--listen-address={UPSTREAM}", "--user=root", "--pid-file=",
                    "--address=/outside.example/203.0.113.80")
        cls.c.start_resolvers()  # before the ADDs: ADD hands the container's namespace to its host's resolver
        cls.c.start_watchers()
        p = cls.t.run(cls.h1, find_binary("overlayctl"), "network", "create", "metrics", "--subnet", "10.81.0.0/24",
                      env=cls.c.env(cls.h1))
        NETWORK.update(json.loads(p.stdout)["plugins"][0])
        cls.expected = {h.name: {} for h in cls.c.hosts}  # (verb, code) -> calls of the overlay plugin
        cls.run_sequence()

    @classmethod
    def call(cls, host, command, c, cid, netns=""):
        rc, res, out, err = run_plugin(cls.t, host, "overlay", command, c, cid, netns, "eth0",
                                       cni_args=f"IgnoreUnknown=1;K8S_POD_NAME={cid}", extra_env=cls.c.env(host))
        code = 0 if rc == 0 else res["code"]
        key = (command, code)
        cls.expected[host.name][key] = cls.expected[host.name].get(key, 0) + 1
        return rc, res, out + err[-1500:]

    @classmethod
    def run_sequence(cls):
        def ok(r):
            assert r[0] == 0, r[2]
            return r[1]
        n1 = cls.n1 = cls.t.add_container(cls.h1, "m1")
        n2 = cls.t.add_container(cls.h1, "m2")
        n3 = cls.t.add_container(cls.h2, "m3")
        added = ok(cls.call(cls.h1, "ADD", conf(), "m1", n1))
        ok(cls.call(cls.h1, "CHECK", conf(prevResult=added), "m1", n1))
        ok(cls.call(cls.h1, "ADD", conf(), "m2", n2))
        ok(cls.call(cls.h1, "DEL", conf(), "m2", n2))
        ok(cls.call(cls.h1, "DEL", conf(), "m2", n2))  # a second DEL is success too
        rc, res, out = cls.call(cls.h1, "ADD", conf(mtu=-1), "m4", n2)
        assert (rc, res and res["code"]) == (1, INVALID_CONFIG), out
        ok(cls.call(cls.h2, "ADD", conf(), "m3", n3))

    def scrape(self, host):
        p = self.t.run(self.pm, "curl", "-sS", "--max-time", "5", f"http://{self.addr[host.name]}/metrics")
        return p.stdout

    def resolver_counts(self, host):
        m = parse_metrics(self.scrape(host))
        out = {f"queries_{dict(l)['transport']}": v for l, v in series(m, "overlay_cni_resolver_queries_total").items()}
        out.update({dict(l)["rcode"]: v for l, v in series(m, "overlay_cni_resolver_answers_total").items()})
        out["forwarded"] = m.get(("overlay_cni_resolver_forwarded_total", frozenset()))
        out["malformed"] = m.get(("overlay_cni_resolver_queries_malformed_total", frozenset()))
        return out

    def drill(self, name, tcp=False):
        p = self.t.run(self.n1, "drill", *(["-t"] if tcp else []), name, "A", "@127.0.0.11", check=False, timeout=20)
        m = re.search(r"rcode: (\w+)", p.stdout)
        return m.group(1) if m else f"no answer: {p.stdout[-300:]} {p.stderr[-300:]}"

    def test_resolver_counts_answers_by_rcode(self):
        deadline = time.monotonic() + 10  # the resolver learns m3 (on h2) from Consul
        while self.drill("m3") != "NOERROR" and time.monotonic() < deadline:
            time.sleep(0.2)
        before = {h.name: self.resolver_counts(h) for h in self.c.hosts}
        asked = [("m3", False, "NOERROR")] * 3 + [("nosuch", False, "NXDOMAIN")] * 2 + \
                [("outside.example", False, "NOERROR"), ("m3", True, "NOERROR")]
        for name, tcp, want in asked:
            self.assertEqual(self.drill(name, tcp), want, name)
        after = {h.name: self.resolver_counts(h) for h in self.c.hosts}
        delta = {k: after["h1"][k] - before["h1"][k] for k in after["h1"]}
        self.assertEqual(delta, {"queries_udp": 6, "queries_tcp": 1, "NOERROR": 5, "NXDOMAIN": 2, "SERVFAIL": 0,
                                 "FORMERR": 0, "NOTIMP": 0, "REFUSED": 0, "forwarded": 1, "malformed": 0},
                         f"before {before['h1']}, after {after['h1']}")
        self.assertEqual(after["h2"], before["h2"], "h2's resolver was not asked")

    def test_nft_figures_equal_what_nft_lists(self):
        want_sets = {("inet", "ovl_vxlan", "allow4"): 2, ("inet", "ovl_vxlan", "allow6"): 0}
        for h in self.c.hosts:
            deadline = time.monotonic() + 10
            while True:  # the health mesh adds its pair to the allow-list after its first sync
                m = parse_metrics(self.scrape(h))
                sets = {tuple(dict(l)[k] for k in ("family", "table", "set")): v
                        for l, v in series(m, "overlay_cni_nftables_set_elements").items()}
                rules = {(dict(l)["family"], dict(l)["table"]): v
                         for l, v in series(m, "overlay_cni_nftables_rules").items()}
                listed = json.loads(self.t.run(h, "nft", "-j", "list", "ruleset").stdout)["nftables"]
                kernel_sets = {(o["set"]["family"], o["set"]["table"], o["set"]["name"]): len(o["set"].get("elem", []))
                               for o in listed if "set" in o}
                kernel_rules = {(o["table"]["family"], o["table"]["name"]): 0 for o in listed if "table" in o}
                for o in listed:
                    if "rule" in o:
                        kernel_rules[(o["rule"]["family"], o["rule"]["table"])] += 1
                if (sets, rules) == (kernel_sets, kernel_rules) and all(sets.get(k) == v for k, v in want_sets.items()):
                    break
                if time.monotonic() > deadline:
                    self.fail(f"{h.name}: exported sets {sets} rules {rules}; nft lists {kernel_sets} {kernel_rules}")
                time.sleep(0.2)
            # allow4 holds (the other host's VTEP, the network's VNI) and (the other host's VTEP, the health VNI).
            for k, v in want_sets.items():
                p = self.t.run(h, "nft", "-j", "list", "set", *k)
                elems = [o["set"] for o in json.loads(p.stdout)["nftables"] if "set" in o][0].get("elem", [])
                self.assertEqual(len(elems), v, f"{h.name} {k}")
            self.assertGreater(rules[("inet", "ovl_vxlan")], 0)

    def test_health_figures_show_the_other_host_up(self):
        for h, other in ((self.h1, self.h2), (self.h2, self.h1)):
            deadline = time.monotonic() + 15
            peer = frozenset({("peer", other.name)})
            while True:
                m = parse_metrics(self.scrape(h))
                if m.get(("overlay_cni_health_peer_up", peer)) == 1 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            self.assertEqual(series(m, "overlay_cni_health_peer_up"), {peer: 1}, h.name)
            rtt = m[("overlay_cni_health_rtt_seconds", peer)]
            self.assertGreater(rtt, 0, h.name)
            self.assertLess(rtt, 1, h.name)  # answered within its round
            probes = m[("overlay_cni_health_probes_total", peer)]
            lost = m[("overlay_cni_health_probes_lost_total", peer)]
            self.assertGreater(probes, 0)
            self.assertLessEqual(lost, probes)
            # The largest packet that crossed: the network MTU (underlay 1400 - 50).
            self.assertEqual(m[("overlay_cni_health_path_largest_packet_bytes", peer)], 1350, h.name)

    def test_one_server_is_never_behind_itself(self):
        # The feed drops a follower's answer older than its listing; with one Consul server the server that
        # answers a ?stale read is the leader, so a count here would be the feed misreading an index.
        for h in self.c.hosts:
            m = parse_metrics(self.scrape(h))
            self.assertEqual(m[("overlay_cni_watch_follower_behind_total", frozenset())], 0, h.name)

    def test_counts_are_exact_and_histograms_agree(self):
        want = {self.h1.name: {("ADD", 0): 2, ("ADD", INVALID_CONFIG): 1, ("CHECK", 0): 1, ("DEL", 0): 2},
                self.h2.name: {("ADD", 0): 1}}
        self.assertEqual(self.expected, want)  # the sequence did what it says
        for h in self.c.hosts:
            m = parse_metrics(self.scrape(h))
            calls = series(m, "overlay_cni_plugin_calls_total", plugin="overlay")
            got = {(dict(l)["verb"], int(dict(l)["code"])): v for l, v in calls.items()}
            self.assertEqual(got, want[h.name], h.name)
            for l, v in calls.items():
                d = dict(l)
                self.assertEqual(d["outcome"], "ok" if d["code"] == "0" else "error")
                self.assertEqual(m[("overlay_cni_plugin_call_duration_seconds_count", l)], v)
                self.check_histogram(m, "overlay_cni_plugin_call_duration_seconds", l, v)
            # overlay's ADDs, CHECK and DELs delegate to overlay-ipam, which records its own calls; the refused
            # ADD fails before IPAM.
            ipam = series(m, "overlay_cni_plugin_calls_total", plugin="overlay-ipam", verb="ADD")
            self.assertEqual(sum(ipam.values()), want[h.name][("ADD", 0)], h.name)
            # The ADDs, CHECK and DELs spent time in IPAM (overlay-ipam's exec).
            phases = series(m, "overlay_cni_plugin_phase_duration_seconds_count", plugin="overlay")
            self.assertLessEqual({dict(l)["phase"] for l in phases}, {"ipam", "store", "nftables", "netlink"})
            self.assertIn(frozenset({("plugin", "overlay"), ("phase", "ipam")}), phases)
            for l, v in phases.items():
                self.check_histogram(m, "overlay_cni_plugin_phase_duration_seconds", l, v)
            self.assertGreater(m[("overlay_cni_plugin_store_requests_total", frozenset({("plugin", "overlay")}))], 0)
            # The network's figures: both hosts are members; each host floods to the other.
            net = frozenset({("network", "metrics")})
            self.assertEqual(m[("overlay_cni_network_members", net)], 2)
            self.assertEqual(m[("overlay_cni_network_flood_entries", net)], 1)
            self.assertEqual(m[("overlay_cni_ipam_pool_addresses", net)], 253)  # /24 without .0, .255, gateway
            self.assertEqual(m[("overlay_cni_ipam_pool_addresses_in_use", net)], 2)  # m1 and m3

    def check_histogram(self, m, name, labels, count):
        buckets = sorted(((float(dict(l)["le"]), v) for (n, l), v in m.items()
                          if n == name + "_bucket" and l - {("le", dict(l)["le"])} == labels))
        self.assertEqual(buckets[-1], (float("inf"), count), name)
        values = [v for _, v in buckets]
        self.assertEqual(values, sorted(values), f"{name} buckets are not cumulative")
        total = m[(name + "_sum", labels)]
        # Each observation lies in its bucket: the sum is at most the bounds' sum, and positive.
        bounds = [b for b, _ in buckets]
        upper = sum(b * (v - (values[i - 1] if i else 0)) for i, (b, v) in enumerate(buckets) if b != float("inf"))
        self.assertGreater(total, 0)
        if values[-2] == count:
            self.assertLessEqual(total, upper + 1e-9, f"{name} sum {total} is above its buckets' bounds {bounds}")

    def test_promtool_accepts_the_output(self):
        for h in self.c.hosts:
            text = self.scrape(h)
            p = self.t.run(self.pm, "promtool", "check", "metrics", input=text, check=False)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr + text)

    def test_only_get_metrics_is_served(self):
        p = self.t.run(self.pm, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                       f"http://{self.addr[self.h1.name]}/other")
        self.assertEqual(p.stdout, "404")
        p = self.t.run(self.pm, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                       f"http://{self.addr[self.h1.name]}/metrics")
        self.assertEqual(p.stdout, "405")

    def test_overlayctl_top_shows_both_hosts(self):
        p = self.t.run(self.h1, find_binary("overlayctl"), "top", "--json", "--endpoint", self.addr[self.h1.name],
                       "--endpoint", self.addr[self.h2.name], env=self.c.env(self.h1))
        hosts = json.loads(p.stdout)
        self.assertEqual([h["endpoint"] for h in hosts], [self.addr[self.h1.name], self.addr[self.h2.name]])
        for h, host in zip(hosts, self.c.hosts):
            got = {}
            for c in (c for c in h["calls"] if c["plugin"] == "overlay"):
                if c["ok"]:
                    got[(c["verb"], 0)] = c["ok"]
                got.update({(c["verb"], int(code)): n for code, n in c["errors"].items()})
            self.assertEqual(got, self.expected[host.name])
            self.assertEqual(h["networks"]["metrics"]["members"], 2)
        # Without --endpoint: this host's own, from its node config; the screen names the figures.
        p = self.t.run(self.h2, find_binary("overlayctl"), "top", "--once", env=self.c.env(self.h2))
        for part in (f"== {self.addr[self.h2.name]}", "PLUGIN", "MEAN-MS", "NETWORK", "metrics"):
            self.assertIn(part, p.stdout)
        # An endpoint that does not answer is reported, and the exit code says so.
        p = self.t.run(self.h1, find_binary("overlayctl"), "top", "--json", "--endpoint", f"{PROM}:1",
                       env=self.c.env(self.h1), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("connecting to metrics endpoint", json.loads(p.stdout)[0]["error"])

    def test_prometheus_scrapes_both_hosts(self):
        d = os.path.join(self.c.tmp, "prometheus")
        os.makedirs(os.path.join(d, "data"), exist_ok=True)
        with open(os.path.join(d, "prometheus.yml"), "w") as f:
            json.dump({"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                       "scrape_configs": [{"job_name": "overlay",
                                           "static_configs": [{"targets": list(self.addr.values())}]}]}, f)
        log = open(os.path.join(d, "log"), "w")
        self.t.popen(self.pm, "prometheus", f"--config.file={d}/prometheus.yml", f"--storage.tsdb.path={d}/data",
                     f"--web.listen-address={PROM}:9090", stdout=log, stderr=log)
        log.close()
        query = urllib.parse.quote('overlay_cni_plugin_calls_total{plugin="overlay"}')
        want = {(self.addr[h], verb, str(code)): float(n) for h, calls in self.expected.items()
                for (verb, code), n in calls.items()}
        got, deadline = None, time.monotonic() + 30
        while time.monotonic() < deadline:
            p = self.t.run(self.pm, "curl", "-fsS", "--max-time", "2",
                           f"http://{PROM}:9090/api/v1/query?query={query}", check=False)
            if p.returncode == 0:
                res = json.loads(p.stdout)["data"]["result"]
                got = {(r["metric"]["instance"], r["metric"]["verb"], r["metric"]["code"]): float(r["value"][1])
                       for r in res}
                if got == want:
                    break
            time.sleep(0.2)
        self.assertEqual(got, want)
        # The health mesh through Prometheus: each host sees the other up, with a round-trip time.
        query = urllib.parse.quote("overlay_cni_health_peer_up * on (instance, peer) "
                                   "(overlay_cni_health_rtt_seconds > bool 0)")
        want = {(self.addr["h1"], "h2"): 1.0, (self.addr["h2"], "h1"): 1.0}
        got, deadline = None, time.monotonic() + 30
        while time.monotonic() < deadline:
            p = self.t.run(self.pm, "curl", "-fsS", "--max-time", "2",
                           f"http://{PROM}:9090/api/v1/query?query={query}", check=False)
            if p.returncode == 0:
                got = {(r["metric"]["instance"], r["metric"]["peer"]): float(r["value"][1])
                       for r in json.loads(p.stdout)["data"]["result"]}
                if got == want:
                    break
            time.sleep(0.2)
        self.assertEqual(got, want)


if __name__ == "__main__":
    unittest.main()


class LoopbackOnly(unittest.TestCase):
    """An endpoint bound to loopback answers on its host and is not reachable from the underlay; a bad
    metrics.listen stops the watcher with an error naming the field."""

    @classmethod
    def setUpClass(cls):
        require_tools("curl")
        cls.c = RtCluster(nhosts=1)
        cls.addClassCleanup(cls.c.cleanup)
        cls.t, (cls.h1,) = cls.c.t, cls.c.hosts
        cls.pm = cls.t.add_host("pm", f"{PROM}/24")
        cls.set_listen("127.0.0.1:9474")
        cls.c.start_watchers()

    @classmethod
    def set_listen(cls, listen):
        path = cls.c.node_cfg[cls.h1.name]
        with open(path) as f:
            node = json.load(f)
        node["metrics"] = {"listen": listen}
        with open(path, "w") as f:
            json.dump(node, f)

    def test_loopback_is_not_reachable_from_the_underlay(self):
        deadline = time.monotonic() + 10
        while True:
            p = self.t.run(self.h1, "curl", "-sS", "--max-time", "2", "http://127.0.0.1:9474/metrics", check=False)
            if p.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("# TYPE", p.stdout)
        ip = self.h1.cidr.split("/")[0]
        p = self.t.run(self.pm, "curl", "-sS", "--max-time", "2", f"http://{ip}:9474/metrics", check=False)
        self.assertEqual(p.returncode, 7, p.stdout + p.stderr)  # 7: failed to connect

    def test_a_bad_listen_address_names_the_field(self):
        path = os.path.join(self.c.tmp, "node-bad.json")
        with open(self.c.node_cfg[self.h1.name]) as f:
            node = json.load(f)
        node["metrics"] = {"listen": "localhost:9474"}
        with open(path, "w") as f:
            json.dump(node, f)
        p = self.t.run(self.h1, find_binary("overlay"), "watch", "--once", env={"OVL_NODE_CONFIG": path},
                       check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("field 'metrics.listen' 'localhost:9474' is not an address and port", p.stderr)
