"""The simulated cluster of the scale scenario (issue 18), on one machine, inside network namespaces only.

A 3-server Consul (cs1..cs3 at 198.51.100.2-4, debug logging), hosts h1..hN (198.51.100.11..) each with its
own node config and stateDir, its own `overlay watch` and `overlay-resolver` (as the demo and
tests/e2e/test_cluster.py run them), and a bench/helper.py agent that exec's the plugins and runs the
probes; containers are network namespaces.

How Consul requests are told apart: every role talks to a server of its own. Each host has three node
configs that differ only in the order of the same three addresses in `store`: the plugins (overlay and the
overlay-ipam it delegates to) list one server first, the watcher another, the resolver the third, and the
client sticks to the first address that answers. So each server's request log holds one role's requests
only (but the daemons' reads that must be the leader's go to the leader's own server, with `?overlay-read`
in the URL, after asking /v1/status/leader: both are moved to the watchers); the client address names the
host (the node configs say `consul.addressOrder: listed`). By default the plugins get the leader's server,
so the daemons' blocking queries are forwarded to the leader as they would be through client agents. With
spread=True the watchers and resolvers list the two other servers in the same order with `addressOrder:
spread` (each host starts at the server its name picks): the plugins' requests are still told apart, the
daemons' are all counted as the watchers' (the resolvers, fed by their watcher, send few). Requests from the
Consul hosts themselves (this driver's own reads, the servers' health checks) are left out by address.
"""

import glob
import json
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "e2e"))

from helper_client import Helper  # noqa: E402
from ovltest.consul import ConsulCluster  # noqa: E402
from ovltest.consul_log import RequestLog  # noqa: E402
from ovltest.faults import container_keys, our_links, wait_for  # noqa: E402
from ovltest.netns import Topology  # noqa: E402

ROLES = ("plugins", "watcher", "resolver")  # in the order of the Consul server each role talks to first
CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    """User + system CPU seconds of a live process (threads included), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_switches(pid):
    """Voluntary context switches of every thread of a process (each is a wake-up from a blocking wait)."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        total += int(line.split()[1])
        except OSError:
            pass  # the thread ended
    return total


def arp_table_fulls():
    """How often the kernel's IPv4 neighbour table was full (all namespaces share it; summed over CPUs)."""
    with open("/proc/net/stat/arp_cache") as f:
        head, *rows = f.read().split("\n")
    col = head.split().index("table_fulls")
    return sum(int(r.split()[col], 16) for r in rows if r.strip())


def backlog_drops():
    """Packets the kernel dropped because a CPU's input backlog was full (net.core.netdev_max_backlog, one
    limit for all namespaces; veth delivery goes through it), summed over CPUs from /proc/net/softnet_stat."""
    with open("/proc/net/softnet_stat") as f:
        return sum(int(line.split()[1], 16) for line in f if line.strip())


def machine_cpu():
    """(busy, total, stolen) jiffies of the whole machine, from /proc/stat: stolen is the time the hypervisor
    gave this machine's CPUs to someone else (counted in busy), which slows everything measured here."""
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:]]
    idle = vals[3] + vals[4]
    return sum(vals) - idle, sum(vals), vals[7] if len(vals) > 7 else 0


class ScaleCluster:
    def __init__(self, nhosts, bin_dir, consul_servers=3, leader_role="plugins", health=True, watch_reads=None,
                 spread=False):
        if not 3 <= nhosts <= 240:
            raise ValueError("between 3 and 240 hosts (198.51.100.11-250)")
        self.bin = os.path.abspath(bin_dir)
        self.health = health
        self.watch_reads = watch_reads  # node config consul.watchReads (None: the product's default)
        self.spread = spread  # the daemons spread over the servers that are not the plugins'
        self.t = Topology()
        self.t.start()
        self.helpers, self.daemons = {}, {}
        try:
            self.cs = [self.t.add_host(f"cs{i}", f"198.51.100.{1 + i}/24") for i in range(1, consul_servers + 1)]
            self.hosts = [self.t.add_host(f"h{i}", f"198.51.100.{10 + i}/24") for i in range(1, nhosts + 1)]
            self.t.pin_underlay_neighbours()
            self.consul = ConsulCluster(self.t, self.cs, log_level="debug")
            self.leader = self.consul.leader().name
            # Consul forwards every read that is not ?stale (blocking queries too) and every write to the
            # leader: the role on the leader's own server skips a hop. Which role that is changes the
            # daemons' cost more than 2x, so it is chosen, not left to the election.
            followers = [self.consul.server(h) for h in self.cs if h.name != self.leader]
            self.servers = followers[:]
            self.servers.insert(ROLES.index(leader_role), self.consul.server(self.leader))
            self.role_server = {role: s.ns.rsplit("-", 1)[1] for role, s in zip(ROLES, self.servers)}
            self.logs = {role: RequestLog(s) for role, s in zip(ROLES, self.servers)}
            self.node_cfg = {h.name: {role: self._write_node_config(h, role) for role in ROLES} for h in self.hosts}
            for h in self.hosts:
                self.helpers[h.name] = Helper(self.t, h)
        except BaseException:
            self.cleanup()
            raise

    # --- set-up ------------------------------------------------------------------------------------
    def state_dir(self, host):
        return os.path.join(self.t.tmpdir, f"state-{host.name}")

    def _write_node_config(self, host, role):
        first = ROLES.index(role)
        order = self.servers[first:] + self.servers[:first]
        consul = {"addressOrder": "listed"}
        if self.spread and role != "plugins":
            order = [s for r, s in zip(ROLES, self.servers) if r != "plugins"]
            consul = {"addressOrder": "spread"}
        path = os.path.join(self.t.tmpdir, f"node-{host.name}-{role}.json")
        if self.watch_reads:
            consul["watchReads"] = self.watch_reads
        cfg = {"store": ",".join(s.store_url for s in order), "hostName": host.name, "advertise": "eth0",
               "stateDir": self.state_dir(host), "resolver": {"upstreams": []}, "health": {"enabled": self.health},
               "consul": consul}
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def plugin_env(self, host):
        env = {"OVL_NODE_CONFIG": self.node_cfg[host.name]["plugins"], "OVL_LOG_LEVEL": "warn"}
        logs = os.environ.get("OVL_SCALE_PLUGIN_LOGS")  # a directory: every plugin call logs there at debug
        if logs:
            os.makedirs(logs, exist_ok=True)
            env.update({"OVL_LOG_LEVEL": "debug", "OVL_LOG_FILE": os.path.join(logs, f"plugins-{host.name}.log")})
        return env

    def start_daemons(self, hosts):
        """`overlay watch` and `overlay-resolver` on each host; returns once every resolver has its socket."""
        for h in hosts:
            procs = {}
            for role, argv in (("watcher", [os.path.join(self.bin, "overlay"), "watch"]),
                               ("resolver", [os.path.join(self.bin, "overlay-resolver")])):
                with open(os.path.join(self.t.tmpdir, f"{role}-{h.name}.log"), "w") as log:
                    env = {"OVL_NODE_CONFIG": self.node_cfg[h.name][role]}
                    if os.environ.get("OVL_SCALE_LOG_LEVEL"):  # e.g. debug, with OVL_SCALE_LOGS
                        env["OVL_LOG_LEVEL"] = os.environ["OVL_SCALE_LOG_LEVEL"]
                    procs[role] = self.t.popen(h, *argv, env=env,
                                               stdout=log, stderr=log)
            self.daemons[h.name] = procs
        for h in hosts:
            wait_for(lambda: glob.glob(os.path.join(self.state_dir(h), "ns-*", "resolver.sock")), 20,
                     f"overlay-resolver on {h.name}")

    def dead_daemons(self):
        return [f"{role} on {h}" for h, procs in self.daemons.items() for role, p in procs.items()
                if p.poll() is not None]

    # --- observations ------------------------------------------------------------------------------
    def counters(self):
        """CPU seconds and voluntary switches of every daemon and Consul server, and the machine's jiffies."""
        c = {"machine": machine_cpu(), "arp_table_fulls": arp_table_fulls(), "backlog_drops": backlog_drops(),
             "consul": {}, "daemons": {}}
        for s in self.servers:
            c["consul"][s.ns] = proc_cpu(s.proc.pid) if s.running() else 0.0
        for h, procs in self.daemons.items():
            c["daemons"][h] = {role: (proc_cpu(p.pid), proc_switches(p.pid)) for role, p in procs.items()
                               if p.poll() is None}
        return c

    def host_of_ip(self):
        return {h.ip: h.name for h in self.hosts}

    def take_requests(self):
        """{role: [Request from a host]} since the last call."""
        hosts = self.host_of_ip()
        got = {role: [r for r in log.take() if r.client in hosts] for role, log in self.logs.items()}
        # The daemons' reads that must be the leader's go to the leader's own server (kv/leader_reader.hpp), the
        # plugins' here: those reads say so in their URL, and the question who leads is theirs too (ADD and DEL
        # never ask it).
        answerers = [r for rs in got.values() for r in rs
                     if (r.endpoint == "txn" and "overlay-read" in r.query) or r.endpoint == "status"]
        if answerers:
            ids = {id(r) for r in answerers}
            got = {role: [r for r in rs if id(r) not in ids] for role, rs in got.items()}
            got["watcher"] += answerers
        if self.spread:
            got["watcher"], got["resolver"] = got["watcher"] + got["resolver"], []
        return got

    def kernel_state(self, host):
        """Counts on a host: flood entries (all-zero MAC) and other FDB entries on ovx-*, neighbour entries on
        ovx-*/ovbr-*, and our links."""
        fdb = json.loads(self.t.run(host, "bridge", "-j", "fdb", "show").stdout or "[]")
        neigh = json.loads(self.t.run(host, "ip", "-j", "neigh", "show").stdout or "[]")
        ovx = [e for e in fdb if str(e.get("ifname", "")).startswith("ovx-")]
        flood = [e for e in ovx if e.get("mac") == "00:00:00:00:00:00"]
        return {"flood": len(flood),
                "fdb_remote": len([e for e in ovx if e.get("mac") != "00:00:00:00:00:00" and e.get("dst")]),
                "fdb_other": len([e for e in ovx if e.get("mac") != "00:00:00:00:00:00" and not e.get("dst")]),
                "neigh": len([n for n in neigh if str(n.get("dev", "")).startswith(("ovx-", "ovbr-"))]),
                "links": len(our_links(self.t, host))}

    def listing_sizes(self, prefix="overlay-cni"):
        """{"networks": [keys, bytes], "attachments": [...]}: what one watcher's (P/networks/) or one resolver's
        (P/attachments/) re-listing fetches from Consul now."""
        reader = self.consul.server(self.cs[-1])
        out = {}
        for part in ("networks", "attachments"):
            status, body = reader.http("GET", f"/v1/kv/{prefix}/{part}/?recurse=true", check=False, timeout=30)
            out[part] = [len(json.loads(body)) if status == 200 else 0, len(body.encode()) if status == 200 else 0]
        return out

    def leftovers(self):
        """What the plugins left after every DEL: container keys in Consul (memberships, attachments, leases,
        owner indexes; network definitions, VNIs, host claims and cursors stay by design), and per host our
        links, FDB and neighbour entries."""
        reader = self.consul.server(self.cs[-1])
        out = {"keys": container_keys(reader), "hosts": {}}
        for h in self.hosts:
            k = self.kernel_state(h)
            if k["links"] or k["flood"] or k["fdb_remote"] or k["fdb_other"] or k["neigh"]:
                out["hosts"][h.name] = k
        return out

    # --- teardown ----------------------------------------------------------------------------------
    def cleanup(self):
        for hp in self.helpers.values():
            hp.close()
        self.helpers = {}
        t0 = time.monotonic()
        keep = os.environ.get("OVL_SCALE_LOGS")  # a directory: the daemons' logs are copied there first
        if keep and self.t.tmpdir:
            os.makedirs(keep, exist_ok=True)
            for name in os.listdir(self.t.tmpdir):
                if name.endswith(".log"):
                    shutil.copy(os.path.join(self.t.tmpdir, name), keep)
        self.t.cleanup()
        return time.monotonic() - t0
