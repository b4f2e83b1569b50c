#!/usr/bin/env python3
"""The scale scenario of issue 18 on one machine: many simulated hosts, a 3-server Consul, containers added in
parallel bursts, churn, then DEL of everything; it measures today's product as it is.

    python3 bench/scale.py --bin build/bin --hosts 50 --containers 1000 --networks 5
    python3 bench/scale.py --bin build/bin --hosts 6 --containers 40 --json /tmp/scale.json
    scripts/bench.sh --only S          (the same, writing the "Scale" section of docs/benchmarks.md)

Phases: "idle" (3 hosts, only their daemons running, one ADD at a time: the baseline), "add" (every
container, in bursts of --burst parallel ADDs on distinct hosts), "foreign" (two hosts join and leave a network
no other host has: who wakes up), "rest" (--rest s without calls: the background cost), "steady" (one ADD at a time on the full cluster, each a new peer on member
hosts whose first ping is captured on the underlay, then its DEL), "churn" (DEL and re-ADD of --churn of the
containers, in bursts), "del" (DEL of everything, in bursts), then what is left. How each figure is measured: bench/scale_report.py and docs/benchmarks.md.
Everything lives in network namespaces (bench/scale_cluster.py); Ctrl-C or a failure cleans up.
"""

import argparse
import json
import os
import random
import sys
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from helper_client import need  # noqa: E402
from scale_cluster import ScaleCluster  # noqa: E402
import scale_render  # noqa: E402
import scale_report  # noqa: E402

PHASE_SETTLE_S = 1.0  # a phase ends once the daemons' blocking queries have been quiet this long


def log(msg):
    print(f"[scale {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Container:
    __slots__ = ("i", "host", "net", "netns", "gen", "ip")

    def __init__(self, i, host, net, netns):
        self.i, self.host, self.net, self.netns, self.gen, self.ip = i, host, net, netns, 0, None

    @property
    def cid(self):
        return f"sc{self.i}-{self.gen}"

    @property
    def name(self):  # the DNS name (K8S_POD_NAME); a re-added container gets a new one
        return f"c{self.i}g{self.gen}"


class Scenario:
    def __init__(self, o):
        self.o = o
        self.rng = random.Random(o.seed)
        self.ops = []       # one record per plugin call
        self.phases = {}    # name -> summary (scale_report.summarize_phase)
        self.bursts = []    # per burst: phase, verb, live containers before it, wall time
        self.extra = {}     # kernel state, foreign-network and broadcast samples, leftovers
        self.live = {}      # Container.i -> Container, ADD done and not deleted
        self.cl = None

    # --- plumbing -----------------------------------------------------------------------------------
    def net_name(self, k):
        return f"sn{k}"

    def conf(self, k):
        return {"cniVersion": "1.0.0", "name": self.net_name(k), "type": "overlay",
                "ipam": {"type": "overlay-ipam", "subnet": f"10.{150 + k}.0.0/20"}}

    def chain_req(self, c, verb, observer=None):
        req = {"cmd": verb, "cid": c.cid, "netns": c.netns, "ifname": "eth0", "key": "scale",
               "args": f"IgnoreUnknown=1;K8S_POD_NAME={c.name}", "path": self.cl.bin,
               "plugins": [{"bin": os.path.join(self.cl.bin, "overlay"), "conf": self.conf(c.net)}],
               "env": self.cl.plugin_env(c.host)}
        if observer is not None:
            req["probe"] = {"observer": observer.netns, "name": c.name, "timeout": self.o.probe_timeout}
        return req

    def joins(self, c):
        """True when c is the first container of its network on its host: its ADD makes the host a member."""
        return not any(x.net == c.net and x.host is c.host for x in self.live.values())

    def record(self, phase, verb, c, r, observer=None, burst=None, join=None):
        op = {"phase": phase, "verb": verb, "host": c.host.name, "net": c.net, "cid": c.cid, "ok": bool(r.get("ok")),
              "join": join,
              "secs": r.get("secs"), "end": r.get("end"), "live": len(self.live), "burst": burst,
              "cpu": sum(st.get("cpu") or 0.0 for st in r.get("steps", []))}
        if not op["ok"]:
            op["error"] = (r.get("out", "") + " " + " | ".join(s.get("err", "")[-300:] for s in r.get("steps", [])
                                                                 if s.get("rc")))[-600:]
        if verb == "ADD" and op["ok"]:
            c.ip = op["ip"] = r["result"]["ips"][0]["address"].split("/")[0]
        if observer is not None:
            op["observer"] = observer.host.name
            op["probe"] = r.get("probe")
        self.ops.append(op)
        return op

    def observer_for(self, c, exclude=()):
        """A random old member of c's network on another host (ADD done before this burst), or None."""
        pool = [x for x in self.live.values() if x.net == c.net and x.host is not c.host and x.i not in exclude]
        return self.rng.choice(pool) if pool else None

    def phase(self, name, fn):
        """Runs fn and accounts everything from its start until the daemons are quiet again to `name`."""
        self.cl.take_requests()
        c0, t0 = self.cl.counters(), time.monotonic()
        fn()
        wall = time.monotonic() - t0
        reqs = self.settle()
        self.phases[name] = scale_report.summarize_phase(name, self, reqs, c0, self.cl.counters(), wall,
                                                         time.monotonic() - t0)
        dead = self.cl.dead_daemons()
        if dead:
            raise RuntimeError(f"daemons died during {name}: {', '.join(dead)}")
        log(f"phase {name}: {wall:.1f} s")

    def settle(self):
        """Collects requests until no blocking query has returned on a change for PHASE_SETTLE_S (at most 60 s)."""
        got = defaultdict(list)
        quiet_since, deadline = time.monotonic(), time.monotonic() + 60
        while time.monotonic() < deadline:
            new = self.cl.take_requests()
            for role, rs in new.items():
                got[role] += rs
            if any(r.blocking and not r.timed_out for rs in new.values() for r in rs):
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= PHASE_SETTLE_S:
                break
            time.sleep(0.2)
        return got

    def run_burst(self, phase, verb, items, probe_share=0.0, exclude=(), burst=None):
        """items in parallel: each host's calls go to its helper as one batch, all hosts at once."""
        by_host, joining = defaultdict(list), set()
        for c in items:
            obs = None
            if verb == "ADD" and probe_share and self.rng.random() < probe_share:
                obs = self.observer_for(c, exclude)
            join = verb == "ADD" and (c.host.name, c.net) not in joining and self.joins(c)
            if join:
                joining.add((c.host.name, c.net))
            by_host[c.host.name].append((c, obs, join))
        t0 = time.monotonic()
        live_before = len(self.live)
        for h, pairs in by_host.items():
            self.cl.helpers[h].send({"op": "batch", "chains": [self.chain_req(c, verb, obs) for c, obs, _ in pairs]})
        failed = 0
        for h, pairs in by_host.items():
            res = self.cl.helpers[h].recv()
            if "results" not in res:
                raise RuntimeError(f"helper on {h}: {res.get('error', res)}")
            for (c, obs, join), r in zip(pairs, res["results"]):
                op = self.record(phase, verb, c, r, obs, burst, join if verb == "ADD" else None)
                failed += not op["ok"]
                if op["ok"] and verb == "ADD":
                    self.live[c.i] = c
                elif verb == "DEL":
                    self.live.pop(c.i, None)
        self.bursts.append({"phase": phase, "verb": verb, "live": live_before, "n": len(items),
                            "wall": time.monotonic() - t0, "failed": failed})

    def in_bursts(self, phase, verb, items, probe_share=0.0, exclude=()):
        b = self.o.burst
        for k in range(0, len(items), b):
            self.run_burst(phase, verb, items[k:k + b], probe_share, exclude, burst=len(self.bursts))

    # --- phases -------------------------------------------------------------------------------------
    def idle_baseline(self):
        """Three hosts, only their daemons running, one call at a time on a network they are members of."""
        hs = self.cl.hosts[:3]
        warm = [Container(-1 - k, h, 0, self.cl.t.add_container(h, "warm")) for k, h in enumerate(hs)]
        for c in warm:
            need(self.cl.helpers[c.host.name].call(dict(self.chain_req(c, "ADD"), op="chain")), "idle warm-up ADD")
        subjects = [Container(-10 - k, hs[k % 3], 0, self.cl.t.add_container(hs[k % 3], f"idle{k}"))
                    for k in range(self.o.idle)]

        def one_by_one(verb):
            for k, c in enumerate(subjects):
                obs = warm[(k + 1) % 3] if verb == "ADD" else None
                r = self.cl.helpers[c.host.name].call(dict(self.chain_req(c, verb, obs), op="chain"))
                self.record(f"idle-{verb.lower()}", verb, c, r, obs)
        self.phase("idle-add", lambda: one_by_one("ADD"))
        self.phase("idle-del", lambda: one_by_one("DEL"))
        for c in warm:
            need(self.cl.helpers[c.host.name].call(dict(self.chain_req(c, "DEL"), op="chain")), "idle warm-up DEL")

    def foreign_network(self):
        """Two hosts join and leave a network nobody else has; the others' daemons should sleep through it."""
        hx, hy = self.cl.hosts[0], self.cl.hosts[1]
        net = self.o.networks  # an index no burst uses
        pair = [Container(-100 - k, h, net, self.cl.t.add_container(h, "fgn")) for k, h in enumerate((hx, hy))]

        def steps():
            for verb, order in (("ADD", pair), ("DEL", pair[::-1])):
                for c in order:
                    need(self.cl.helpers[c.host.name].call(dict(self.chain_req(c, verb), op="chain")),
                         f"foreign-network {verb}")
                    time.sleep(0.3)  # not a wait for a state: keeps each call's wakeups apart from the next
        self.phase("foreign", steps)
        self.extra["foreign"] = {"hosts": [hx.name, hy.name], "calls": 4, "network": self.net_name(net)}

    def rest(self):
        """No calls for --rest s; every host counts the VXLAN frames it sends meanwhile (what containers and
        the kernel flood by themselves: IPv6 router solicitations, ARP refreshes)."""
        caps = {h: need(hp.call({"op": "capture_start"}), "capture")["id"] for h, hp in self.cl.helpers.items()}
        time.sleep(self.o.rest)
        self.extra["rest_vxlan"] = {h: need(self.cl.helpers[h].call({"op": "capture_stop", "id": i}), "capture")
                                    for h, i in caps.items()}
        for got in self.extra["rest_vxlan"].values():
            got.pop("arp", None)

    def steady(self):
        """One call at a time on the full cluster: a new peer on a host that is already a member of its network,
        pinged first by an old member on another host, then deleted. Besides latency and convergence without
        bursts, each ADD counts the VXLAN copies of the new container's gratuitous ARP (on its host) and of the
        ARP request for it (on the pinging host), with an AF_PACKET capture in those hosts' helpers."""
        samples = []
        for k in range(self.o.steady):
            a = self.rng.choice(list(self.live.values()))
            hb = self.rng.choice(sorted({x.host for x in self.live.values() if x.net == a.net and x.host is not a.host},
                                        key=lambda h: h.name))
            c = Container(-200 - k, hb, a.net, self.cl.t.add_container(hb, f"st{k}"))
            caps = {h: need(self.cl.helpers[h].call({"op": "capture_start"}), "capture")["id"]
                    for h in {a.host.name, hb.name}}
            r = self.cl.helpers[hb.name].call(dict(self.chain_req(c, "ADD", a), op="chain"))
            op = self.record("steady", "ADD", c, r, a, join=False)
            got = {h: need(self.cl.helpers[h].call({"op": "capture_stop", "id": i}), "capture") for h, i in caps.items()}
            if op["ok"]:
                samples.append(scale_report.broadcast_sample(op, got[a.host.name], got[hb.name]))
                self.record("steady", "DEL", c, self.cl.helpers[hb.name].call(dict(self.chain_req(c, "DEL"), op="chain")))
        self.extra["broadcast"] = samples

    def run(self):
        o = self.o
        log(f"{o.hosts} hosts, {o.containers} containers, {o.networks} networks, bursts of {o.burst}")
        t0 = time.monotonic()
        self.cl = ScaleCluster(o.hosts, o.bin, leader_role=o.leader_role, health=not o.no_health,
                               watch_reads=o.watch_reads, spread=o.spread)
        try:
            self.extra["setup_s"] = time.monotonic() - t0
            self.extra["consul"] = {"leader": self.cl.leader, "servers": self.cl.role_server}
            self.cl.start_daemons(self.cl.hosts[:3])
            if o.idle:
                self.idle_baseline()
            self.cl.start_daemons(self.cl.hosts[3:])
            t1 = time.monotonic()
            pop = [Container(i, self.cl.hosts[i % o.hosts], self.rng.randrange(o.networks), None)
                   for i in range(o.containers)]
            for c in pop:
                c.netns = self.cl.t.add_container(c.host, f"c{c.i}")
            self.extra["netns_s"] = time.monotonic() - t1
            log(f"{len(pop)} container namespaces in {self.extra['netns_s']:.1f} s")
            self.phase("add", lambda: self.in_bursts("add", "ADD", pop, o.probe_share))
            self.extra["addresses"] = scale_report.address_check(self.live.values())
            self.extra["kernel"] = {h.name: self.cl.kernel_state(h) for h in self.cl.hosts}
            self.extra["listings"] = self.cl.listing_sizes()
            self.phase("rest", self.rest)
            self.foreign_network()
            self.phase("steady", self.steady)
            churn = self.rng.sample(sorted(self.live), int(len(self.live) * o.churn))
            gone = [self.live[i] for i in churn]
            self.phase("churn-del", lambda: self.in_bursts("churn-del", "DEL", gone))
            for c in gone:
                c.gen += 1
            self.phase("churn-add", lambda: self.in_bursts("churn-add", "ADD", gone, o.probe_share))
            self.extra["addresses_after_churn"] = scale_report.address_check(self.live.values())
            rest = sorted(self.live.values(), key=lambda c: c.i)
            self.phase("del", lambda: self.in_bursts("del", "DEL", rest))
            self.extra["leftovers"] = self.cl.leftovers()
            lead = self.cl.consul.leader()
            self.extra["consul"]["leader_at_end"] = lead.name if lead else None
        finally:
            self.extra["cleanup_s"] = self.cl.cleanup()
            self.extra["total_s"] = time.monotonic() - t0
        return scale_report.results(self)


def options(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(HERE), "build", "bin"))
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--containers", type=int, default=1000)
    ap.add_argument("--networks", type=int, default=5)
    ap.add_argument("--burst", type=int, default=25, help="parallel ADDs (or DELs) per burst, on distinct hosts")
    ap.add_argument("--churn", type=float, default=0.2, help="share of the containers deleted and added again")
    ap.add_argument("--probe-share", type=float, default=0.25,
                    help="share of ADDs followed by a ping and a DNS probe from an old member on another host")
    ap.add_argument("--probe-timeout", type=float, default=10.0)
    ap.add_argument("--idle", type=int, default=30, help="ADDs (then DELs) one at a time for the idle baseline")
    ap.add_argument("--steady", type=int, default=20,
                    help="ADDs (each then deleted) one at a time on the full cluster, with probes and captures")
    ap.add_argument("--rest", type=float, default=10.0,
                    help="seconds with no call at full size: the cluster's background cost (blocking-query timeouts)")
    ap.add_argument("--leader-role", choices=("plugins", "watcher", "resolver"), default="plugins",
                    help="the role whose Consul server is the leader (the others' requests are forwarded to it)")
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--no-health", action="store_true", help="the watchers' health mesh off (its cost: compare)")
    ap.add_argument("--spread", action="store_true",
                    help="the watchers and resolvers spread over the two servers that are not the plugins' "
                         "(consul.addressOrder spread); their requests are then all counted as the watchers'")
    ap.add_argument("--watch-reads", choices=("auto", "leader", "any"),
                    help="node config consul.watchReads for every daemon (default: the product's own, auto)")
    ap.add_argument("--json", help="write every figure, phase and call here")
    ap.add_argument("--md", help="write the Scale section into this markdown file (docs/benchmarks.md)")
    ap.add_argument("--plot", help="PNG of ADD latency and convergence against containers (gnuplot)")
    ap.add_argument("--from-json", help="run nothing: render the figures of an earlier --json file")
    o = ap.parse_args(argv)
    if o.containers < 2 * o.hosts or o.idle < 0 or not 0 <= o.churn <= 1:
        ap.error("at least two containers per host, --idle >= 0, --churn within 0..1")
    return o


def main():
    o = options()
    if o.from_json:
        with open(o.from_json) as f:
            res = scale_report.refresh(json.load(f))
    else:
        res = Scenario(o).run()
    print(scale_render.text(res))
    if o.json and not o.from_json:
        with open(o.json, "w") as f:
            json.dump(res, f, indent=1)
    if o.plot:
        scale_render.plot(res, o.plot)
    if o.md:
        scale_render.write_section(res, o.md, os.path.basename(o.plot) if o.plot else None)
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
