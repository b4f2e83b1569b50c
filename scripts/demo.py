#!/usr/bin/env python3
"""The Docker-overlay-with-Consul scenario, end to end, on simulated hosts (network namespaces).

It follows the classic guide (docker daemons with --cluster-store=consul://... and --cluster-advertise,
`docker network create -d overlay over`, containers with eth0 on the overlay and gw-eth0 on the gateway bridge (docker_gwbridge),
isolation between over and over2, `docker network connect`, --subnet/--gateway and --ip), with our CNI
plugins in place of the Docker engine and the demo addresses:

    underlay 198.51.100.0/24: consul host cs .10, hosts h1 .11, h2 .12, h3 .13 (each runs `overlay watch`
                              and `overlay-resolver`, the containers' DNS)
    internet 203.0.113.0/24:  host 203.0.113.1 behind a router at 198.51.100.254 (also an upstream DNS
                              server, dnsmasq, that knows www.example.net)
    overlays: over 10.0.0.0/24, over2 10.0.1.0/24, custom 10.0.5.0/24 (gateway 10.0.5.254)
    gateway bridge: cni_gwbridge 172.18.0.0/16 on every host (local addresses, like docker_gwbridge)

Every figure in the report is measured or read back (from Consul, from inside the containers with
`ip -j`, from ping and curl). Exits 1 when any step fails. Usage: OVL_BIN_DIR=<build>/bin demo.py
(scripts/demo.sh builds first and sets it).
"""

import argparse
import json
import os
import re
import sys
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))

PREFIX = "overlay-cni"
EXAMPLES = os.path.join(TOP, "conf-examples")
CONSUL_IP = "198.51.100.10"
HOSTS = {"h1": "198.51.100.11", "h2": "198.51.100.12", "h3": "198.51.100.13"}
INTERNET_IP = "203.0.113.1"
SUBNETS = {"over": "10.0.0.0/24", "over2": "10.0.1.0/24"}
CUSTOM = {"name": "custom", "subnet": "10.0.5.0/24", "gateway": "10.0.5.254", "static": "10.0.5.50"}
GW_SUBNET = "172.18.0.0/16"
GW_IF = "gw-eth0"  # gwbridge's chained default: "gw-" + CNI_IFNAME
HOST_PORT, CONTAINER_PORT = 8080, 80


class StepFailed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise StepFailed(msg)


# --- the report ------------------------------------------------------------------------------------------
class Report:
    WIDTH = 64

    def __init__(self, colour):
        self.colour = colour
        self.results = []  # (section, name, ok)
        self.section = ""

    def _c(self, code, text):
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def title(self, text):
        print(self._c("1", text))
        print(self._c("2", "=" * len(text)))

    def heading(self, text):
        self.section = text
        print()
        print(self._c("1;36", text))

    def step(self, name, ok, details=(), skipped=False):
        word = "SKIP" if skipped else ("PASS" if ok else "FAIL")
        code = "33" if skipped else ("32" if ok else "1;31")
        dots = "." * max(2, self.WIDTH - len(name) - 1)
        print(f"  {name} {self._c('2', dots)} {self._c(code, word)}")
        for line in details:
            print(f"      {line}")
        sys.stdout.flush()
        self.results.append((self.section, name, ok and not skipped))

    def table(self, header, rows):
        """Aligned columns, returned as lines (for step details)."""
        cols = [header] + [[str(c) for c in r] for r in rows]
        widths = [max(len(r[i]) for r in cols) for i in range(len(header))]
        fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
        return [self._c("2", fmt(header))] + [fmt(r) for r in cols[1:]]

    @property
    def failed(self):
        return [r for r in self.results if not r[2]]


# --- the scenario ----------------------------------------------------------------------------------------
class Demo:
    def __init__(self, report, verbose=False):
        from ovltest.consul import ConsulServer  # noqa: F401  (imported late: OVL_BIN_DIR must be set first)
        from ovltest.netns import Topology
        self.r = report
        self.verbose = verbose
        self.t = Topology()
        self.consul = None
        self.hosts = {}
        self.node_cfg = {}
        self.watchers = {}
        self.etc_netns = []    # /etc/netns/<ns> dirs holding containers' resolv.conf
        self.containers = {}   # name -> {"host", "netns", "attachments": [(conflist, ifname, args, result)]}
        self.done = set()      # names of steps that passed, for dependencies

    # --- helpers ---------------------------------------------------------------------------------------
    def run_step(self, name, fn, needs=()):
        missing = [n for n in needs if n not in self.done]
        if missing:
            self.r.step(name, False, [f"skipped: needs {', '.join(missing)}"], skipped=True)
            return None
        start = time.monotonic()
        try:
            details = fn() or []
            ok = True
        except StepFailed as e:
            details, ok = [str(e)], False
        except Exception as e:  # a crash in one step is that step's failure; the rest still run
            details, ok = [f"{type(e).__name__}: {str(e).strip()[-1500:]}"], False
        if self.verbose:
            details = list(details) + [f"({time.monotonic() - start:.2f} s)"]
        self.r.step(name, ok, details)
        if ok:
            self.done.add(name)
        return ok

    def env(self, host):
        return {"OVL_NODE_CONFIG": self.node_cfg[host]}

    def load_conflist(self, filename, name=None, subnet=None, gateway=None):
        """A conflist from conf-examples, adapted: network name and overlay subnet, and the gateway
        bridge's local file store in a per-host folder (the simulated hosts share one filesystem)."""
        with open(os.path.join(EXAMPLES, filename)) as f:
            cl = json.load(f)
        if name:
            cl["name"] = name
        for p in cl["plugins"]:
            if p["type"] == "overlay" and subnet:
                p["ipam"]["subnet"] = subnet
                if gateway:
                    p["ipam"]["gateway"] = gateway
        return cl

    def chain(self, command, host, cl, cid, netns, ifname, args="", runtime=None, prev=None):
        """Runs the conflist's plugins as libcni does: in order for ADD (each gets the previous result),
        in reverse for DEL (with the cached result)."""
        from ovltest.chain import ChainError, data_dir, run_chain
        try:
            return run_chain(self.t, self.hosts[host], cl, command, cid, netns, ifname, args, runtime, prev,
                             extra_env=self.env(host), gw_data_dir=data_dir(self.t, host))
        except ChainError as e:
            raise StepFailed(f"{e.plugin} {command} for {cid} on {host}: {e.msg}") from None

    def addrs(self, netns):
        """{ifname: [(cidr, mtu)]} for the IPv4 addresses inside netns, read with `ip -j addr`."""
        out = {}
        for link in json.loads(self.t.run(netns, "ip", "-j", "addr").stdout):
            for a in link.get("addr_info", []):
                if a.get("family") == "inet" and link["ifname"] != "lo":
                    out.setdefault(link["ifname"], []).append((f"{a['local']}/{a['prefixlen']}", link.get("mtu")))
        return out

    def default_route(self, netns):
        for r in json.loads(self.t.run(netns, "ip", "-j", "-4", "route").stdout):
            if r.get("dst") == "default":
                return r.get("gateway"), r.get("dev")
        return None, None

    def ip_of(self, name, ifname="eth0"):
        a = self.addrs(self.containers[name]["netns"]).get(ifname)
        check(a, f"{name} has no IPv4 address on {ifname}")
        return a[0][0].split("/")[0]

    def ping(self, src_netns, ip, count=3, warm=True):
        """(ok, replies, text); with warm, a first probe lets ARP and FDB learning settle."""
        if warm:
            self.t.run(src_netns, "ping", "-n", "-q", "-c", "1", "-W", "1", ip, check=False)
        p = self.t.run(src_netns, "ping", "-n", "-q", "-c", str(count), "-i", "0.2", "-W", "1", ip, check=False)
        m = re.search(r"(\d+) received", p.stdout)
        rtt = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)", p.stdout)
        received = int(m.group(1)) if m else 0
        text = f"{received}/{count} replies" + (f", rtt avg {rtt.group(2)} ms" if rtt else "")
        return received == count, received, text

    def poll(self, fn, timeout=5.0, interval=0.05):
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v or time.monotonic() >= deadline:
                return v
            time.sleep(interval)

    def curl(self, ns, url):
        """(rc, text); an IPv4-mapped address at the start ("[::ffff:a.b.c.d]", busybox httpd) is unwrapped."""
        p = self.t.run(ns, "curl", "-sS", "-m", "5", url, check=False, timeout=15)
        text = p.stdout.strip() or p.stderr.strip()
        return p.returncode, re.sub(r"^\[::ffff:([\d.]+)\]", r"\1", text)

    # --- 1. cluster store ------------------------------------------------------------------------------
    def start(self):
        self.t.start()
        self.cs = self.t.add_host("cs", f"{CONSUL_IP}/24")
        for name, ip in HOSTS.items():
            self.hosts[name] = self.t.add_host(name, f"{ip}/24")
        self.inet = self.t.add_internet(f"{INTERNET_IP}/24")
        self.t.popen(self.inet, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                     "--no-hosts", "--bind-interfaces", f"--listen-address={INTERNET_IP}", "--user=root",
                     "--pid-file=", f"--address=/www.example.net/{INTERNET_IP}")

    def step_consul(self):
        from ovltest.consul import ConsulServer
        start = time.monotonic()
        self.consul = ConsulServer(self.t, self.cs, CONSUL_IP)
        ready = time.monotonic() - start
        agent = json.loads(self.consul.http("GET", "/v1/agent/self")[1])
        version = agent.get("Config", {}).get("Version", "?")
        return [f"consul {version} (-dev, in memory) at {self.consul.addr}, "
                f"leader {self.consul.leader()}, ready in {ready:.1f} s"]

    # --- 2. hosts --------------------------------------------------------------------------------------
    def step_host(self, name):
        host = self.hosts[name]
        path = os.path.join(self.t.tmpdir, f"node-{name}.json")
        with open(os.path.join(EXAMPLES, "overlay-node.json")) as f:
            cfg = json.load(f)
        cfg.update({"store": self.consul.store_url, "hostName": name,
                    "stateDir": os.path.join(self.t.tmpdir, f"state-{name}"),
                    "resolver": {"upstreams": [INTERNET_IP]}})
        with open(path, "w") as f:
            json.dump(cfg, f)
        self.node_cfg[name] = path
        from ovltest.plugins import find_binary
        log_path = os.path.join(self.t.tmpdir, f"watch-{name}.log")
        log = open(log_path, "w")
        self.watchers[name] = self.t.popen(host, find_binary("overlay"), "watch", env=self.env(name),
                                           stdout=log, stderr=log)
        log.close()

        def watching():
            if self.watchers[name].poll() is not None:
                raise StepFailed(f"overlay watch exited {self.watchers[name].returncode}: {open(log_path).read()[-500:]}")
            return "watching" in open(log_path).read()
        check(self.poll(watching, 10), f"overlay watch on {name} did not start: {open(log_path).read()[-500:]}")
        rlog_path = os.path.join(self.t.tmpdir, f"resolver-{name}.log")
        rlog = open(rlog_path, "w")
        resolver = self.t.popen(host, find_binary("overlay-resolver"), env=self.env(name), stdout=rlog, stderr=rlog)
        rlog.close()

        def resolving():
            if resolver.poll() is not None:
                raise StepFailed(f"overlay-resolver exited {resolver.returncode}: {open(rlog_path).read()[-500:]}")
            return "listening" in open(rlog_path).read()
        check(self.poll(resolving, 10), f"overlay-resolver on {name} did not start: {open(rlog_path).read()[-500:]}")
        eth0 = json.loads(self.t.run(host, "ip", "-j", "-4", "addr", "show", "dev", "eth0").stdout)[0]
        ip = eth0["addr_info"][0]["local"]
        return [f"store {cfg['store']}, advertise {cfg['advertise']} = {ip}, "
                f"`overlay watch` pid {self.watchers[name].pid}, `overlay-resolver` pid {resolver.pid}"]

    # --- 3. containers ---------------------------------------------------------------------------------
    def run_container(self, name, host, cl, args="", runtime=None, ifname="eth0"):
        """docker run --network NET: an empty netns, then the conflist's chain."""
        c = self.containers.get(name)
        if c is None:
            netns = self.t.add_container(self.hosts[host], name)
            c = self.containers[name] = {"host": host, "netns": netns, "attachments": []}
        cargs = f"IgnoreUnknown=1;K8S_POD_NAME={name}" + (f";{args}" if args else "")
        try:
            res = self.chain("ADD", host, cl, name, c["netns"], ifname, cargs, runtime)
        except StepFailed:
            # As podman does when ADD fails: DEL the whole chain (no prevResult), then report the error.
            try:
                self.chain("DEL", host, cl, name, c["netns"], ifname, cargs, runtime)
            except StepFailed as e:
                print(f"      rollback DEL failed: {e}", file=sys.stderr)
            raise
        c["attachments"].append((cl, ifname, cargs, runtime, res))
        return c

    def describe(self, name, overlay_ifs=("eth0",), expect_gw=True):
        """Interface lines read from inside the container, with checks."""
        c = self.containers[name]
        a = self.addrs(c["netns"])
        gw, dev = self.default_route(c["netns"])
        lines = []
        for ifname in sorted(a):
            cidr, mtu = a[ifname][0]
            role = "overlay" if ifname in overlay_ifs else ("gateway bridge" if ifname == GW_IF else "?")
            lines.append([ifname, cidr, str(mtu), role])
        for ifname in overlay_ifs:
            check(ifname in a, f"{name}: no address on {ifname} (have {sorted(a)})")
        if expect_gw:
            check(GW_IF in a and a[GW_IF][0][0].startswith("172.18."), f"{name}: {GW_IF} not on {GW_SUBNET}: {a}")
            check(dev == GW_IF, f"{name}: default route is via {gw} dev {dev}, expected {GW_IF}")
        return self.r.table(["if", "address", "mtu", "network"], lines) + [f"default route via {gw} dev {dev}"]

    def step_container(self, name, host, net, runtime=None):
        cl = self.load_conflist("overlay-gwbridge.conflist", net, SUBNETS[net])
        self.run_container(name, host, cl, runtime=runtime)
        a = self.addrs(self.containers[name]["netns"])
        ip = a.get("eth0", [("?", 0)])[0][0]
        check(ip.startswith(SUBNETS[net].rsplit(".", 1)[0] + "."), f"{name}: eth0 {ip} not in {SUBNETS[net]}")
        return [f"like `docker run --network {net} --name {name}` on {host}"] + self.describe(name)

    def step_connect(self, name, net):
        """docker network connect NET NAME: a second attachment on the overlay alone (eth2)."""
        c = self.containers[name]
        cl = self.load_conflist("overlay-only.conflist", net, SUBNETS[net])
        cl["plugins"][0].pop("mtu", None)
        self.run_container(name, c["host"], cl, ifname="eth2")
        return [f"like `docker network connect {net} {name}` on {c['host']} (the overlay alone, as eth2)"] + \
            self.describe(name, ("eth0", "eth2"))

    # --- 4. what Consul holds --------------------------------------------------------------------------
    def step_networks(self):
        rows, vnis = [], {}
        for net in ("over", "over2"):
            seen = {}
            for h in self.hosts.values():  # read from each host's namespace: what that host sees
                p = self.t.run(h, "curl", "-sS", "-m", "5", f"{self.consul.addr}/v1/kv/{PREFIX}/networks/{net}/config?raw")
                seen[h.name] = json.loads(p.stdout)["vni"]
            check(len(set(seen.values())) == 1, f"{net}: hosts disagree on the VNI: {seen}")
            vni = vnis[net] = next(iter(seen.values()))
            leases = sorted(k.rsplit("/", 1)[-1] for k in self.consul.kv_keys(f"{PREFIX}/ipam/{net}/leases/"))
            check(all(l.startswith(SUBNETS[net].rsplit(".", 1)[0] + ".") for l in leases), f"{net}: leases {leases}")
            rows.append([net, vni, SUBNETS[net], "global", ",".join(sorted(seen)), " ".join(leases)])
        check(vnis["over"] != vnis["over2"], f"over and over2 share VNI {vnis['over']}")
        self.vnis = vnis
        return self.r.table(["network", "vni", "subnet", "scope", "read from", "leases in consul"], rows)

    def step_members(self):
        rows = []
        for name, host in self.hosts.items():
            nets = []
            for net in ("over", "over2"):
                v = self.consul.kv_get(f"{PREFIX}/networks/{net}/members/{name}")
                if v is None:
                    continue
                m = json.loads(v)
                check(m["vtep"] == host.ip, f"{name} advertised {m['vtep']} on {net}, expected {host.ip}")
                nets.append(f"{net}(vni {m['vni']})")
            check(nets, f"{name} is not a member of any network")
            vx = []
            for net in ("over", "over2"):
                vni = self.vnis[net]
                p = self.t.run(host, "ip", "-d", "-j", "link", "show", f"ovx-{vni}", check=False)
                if p.returncode == 0:
                    info = json.loads(p.stdout)[0]["linkinfo"]["info_data"]
                    check(info["id"] == vni and info["local"] == host.ip, f"{name}: ovx-{vni} is {info}")
                    fdb = self.t.run(host, "bridge", "fdb", "show", "dev", f"ovx-{vni}").stdout
                    peers = sorted(set(re.findall(r"00:00:00:00:00:00 dst (\S+)", fdb)))
                    vx.append(f"ovx-{vni}->{','.join(p.rsplit('.', 1)[1] for p in peers) or '-'}")
            rows.append([name, host.ip, " ".join(nets), " ".join(vx)])
        return self.r.table(["host", "advertised (vtep)", "member of", "vxlan -> flood list (.N)"], rows)

    # --- 5. connectivity -------------------------------------------------------------------------------
    def step_ping(self, src, dst, ifname="eth0"):
        ip = self.ip_of(dst, ifname)
        ok, _, text = self.ping(self.containers[src]["netns"], ip)
        detail = (f"{src}@{self.containers[src]['host']} -> {dst}@{self.containers[dst]['host']} "
                  f"{ip}: {text}")
        check(ok, detail)
        return [detail]

    def step_isolation(self):
        src, dst = "bbox3", "bbox1"
        ip = self.ip_of(dst)
        n = self.containers[src]["netns"]
        _, got1, t1 = self.ping(n, ip, 2, warm=False)
        # Even pointed straight at the overlay segment, over2 cannot reach over (different VNI, bridge).
        self.t.run(n, "ip", "route", "add", ip, "dev", "eth0")
        try:
            _, got2, t2 = self.ping(n, ip, 2, warm=False)
        finally:
            self.t.run(n, "ip", "route", "del", ip, "dev", "eth0", check=False)
        lines = [f"{src} (over2) -> {dst} (over) {ip} by the default route: {t1}",
                 f"{src} (over2) -> {dst} (over) {ip} on eth0 directly:      {t2}"]
        check(got1 == 0 and got2 == 0, "over2 reached over: " + "; ".join(lines))
        return lines

    def step_both(self):
        n = self.containers["bbox4"]["netns"]
        lines, ok = [], True
        for dst, ifname in (("bbox1", "eth0"), ("bbox3", "eth0")):
            ip = self.ip_of(dst, ifname)
            good, _, text = self.ping(n, ip)
            ok &= good
            lines.append(f"bbox4 -> {dst} {ip}: {text}")
        check(ok, "; ".join(lines))
        return lines

    # --- 6. names ---------------------------------------------------------------------------------------
    def resolv_conf(self, name):
        """The container's resolv.conf from its ADD result's dns, as podman writes it (`ip netns exec`
        mounts /etc/netns/<ns>/resolv.conf over /etc/resolv.conf)."""
        c = self.containers[name]
        dns = c["attachments"][0][4].get("dns", {})
        check(dns.get("nameservers", [None])[0] == "127.0.0.11", f"{name}: the result's dns is {dns}")
        d = os.path.join("/etc/netns", os.path.basename(c["netns"]))
        os.makedirs(d, exist_ok=True)
        self.etc_netns.append(d)
        with open(os.path.join(d, "resolv.conf"), "w") as f:
            f.write("".join(f"nameserver {n}\n" for n in dns["nameservers"]) + "options timeout:1 attempts:2\n")
        return c["netns"]

    def lookup(self, netns, name):
        """(rcode, addresses) for an A query to the container's resolver."""
        p = self.t.run(netns, "drill", name, "A", "@127.0.0.11", check=False, timeout=20)
        m = re.search(r"rcode: (\w+)", p.stdout)
        return (m.group(1) if m else "no answer"), re.findall(r"\sIN\s+A\s+(\S+)$", p.stdout, re.M)

    def step_ping_by_name(self, src, dst):
        n = self.resolv_conf(src)
        self.t.run(n, "ping", "-n", "-q", "-c", "1", "-W", "1", dst, check=False)  # warm ARP/FDB
        p = self.t.run(n, "ping", "-c", "3", "-i", "0.2", "-W", "1", dst, check=False)
        head = p.stdout.splitlines()[0] if p.stdout else p.stderr.strip()
        m = re.search(r"(\d+) received", p.stdout)
        check(p.returncode == 0 and m and m.group(1) == "3", f"ping {dst}: {p.stdout.strip()} {p.stderr.strip()}")
        check(self.ip_of(dst) in head, f"{dst} resolved to something else: {head}")
        return [f"{src}@{self.containers[src]['host']}$ ping {dst}   ->  {head}", f"{m.group(1)}/3 replies"]

    def step_names_scoped(self):
        lines, ok = [], True
        for src, name, want in (("bbox3", "bbox1", "NXDOMAIN"), ("bbox3", "bbox4", "NOERROR"),
                                ("bbox4", "bbox3", "NOERROR"), ("bbox4", "bbox1", "NOERROR")):
            rcode, addrs = self.lookup(self.containers[src]["netns"], name)
            ok &= rcode == want
            lines.append(f"{src} asks {name:6} -> {rcode}{' ' + ', '.join(addrs) if addrs else ''}")
        check(ok, "; ".join(lines))
        return ["bbox3 is on over2 only; bbox4 is on over and over2"] + lines

    def step_outside_name(self):
        n = self.resolv_conf("bbox2")
        g = self.t.run(n, "getent", "hosts", "www.example.net", check=False)
        check(g.stdout.split()[:1] == [INTERNET_IP], f"getent hosts www.example.net: {g.stdout} {g.stderr}")
        return [f"bbox2$ getent hosts www.example.net  ->  {g.stdout.strip()}  (relayed to dnsmasq on {INTERNET_IP})"]

    # --- 7. gateway bridge -----------------------------------------------------------------------------
    def start_echo_server(self, ns, port):
        """busybox httpd with a CGI that answers the client address it sees."""
        root = os.path.join(self.t.tmpdir, f"www-{port}-{os.path.basename(str(ns))}")
        os.makedirs(os.path.join(root, "cgi-bin"))
        script = os.path.join(root, "cgi-bin", "ip")
        with open(script, "w") as f:
            f.write("#!/bin/busybox sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n"
                    "echo \"$REMOTE_ADDR\"\n")
        os.chmod(script, 0o755)
        self.t.popen(ns, "/bin/busybox", "httpd", "-f", "-p", str(port), "-h", root)
        addr = "127.0.0.1"

        def up():
            return self.t.run(ns, "curl", "-s", "-m", "1", f"http://{addr}:{port}/cgi-bin/ip", check=False).returncode == 0
        check(self.poll(up, 5), f"busybox httpd did not start in {ns}")
        return f"/cgi-bin/ip"

    def step_nat(self):
        path = self.start_echo_server(self.inet, 80)
        n = self.containers["bbox1"]["netns"]
        ok, _, text = self.ping(n, INTERNET_IP)
        rc, body = self.curl(n, f"http://{INTERNET_IP}{path}")
        seen = body.split()[0] if rc == 0 and body else None
        h1 = self.hosts["h1"].ip
        lines = [f"bbox1 -> internet host {INTERNET_IP}: ping {text}",
                 f"bbox1 -> http://{INTERNET_IP}{path}: the server saw the client as {seen or body}"]
        check(ok and seen == h1, "; ".join(lines) + f" (expected {h1}, h1's address: masquerade)")
        return lines + [f"source {self.ip_of('bbox1', GW_IF)} was masqueraded to h1's {h1}"]

    def step_port(self):
        # bbox5 on h1: `docker run -p 8080:80` (runtimeConfig.portMappings), a web server inside.
        cl = self.load_conflist("overlay-gwbridge.conflist", "over", SUBNETS["over"])
        self.run_container("bbox5", "h1", cl, runtime={"portMappings": [
            {"hostPort": HOST_PORT, "containerPort": CONTAINER_PORT, "protocol": "tcp"}]})
        n = self.containers["bbox5"]["netns"]
        path = self.start_echo_server(n, CONTAINER_PORT)
        h1 = self.hosts["h1"].ip
        lines = [f"like `docker run -p {HOST_PORT}:{CONTAINER_PORT} --network over --name bbox5` on h1 "
                 f"(runtimeConfig.portMappings; {GW_IF} {self.ip_of('bbox5', GW_IF)}), busybox httpd inside"]
        ok = True
        for client in (self.hosts["h2"], self.inet):
            rc, body = self.curl(client, f"http://{h1}:{HOST_PORT}{path}")
            good = rc == 0 and body.split()[0] == client.ip
            ok &= good
            lines.append(f"from {client.name} ({client.ip}): http://{h1}:{HOST_PORT}{path} -> "
                         f"{'container saw client ' + body.split()[0] if rc == 0 and body else body}")
        check(ok, "; ".join(lines))
        return lines

    # --- 8. --subnet/--gateway and --ip ----------------------------------------------------------------
    def step_custom(self):
        cl = self.load_conflist("overlay-gwbridge.conflist", CUSTOM["name"], CUSTOM["subnet"], CUSTOM["gateway"])
        self.run_container("bbox6", "h2", cl, args=f"IP={CUSTOM['static']}")
        self.run_container("bbox7", "h3", cl)
        res = self.containers["bbox6"]["attachments"][-1][-1]
        ov = [ip for ip in res["ips"] if ip["address"].startswith("10.0.5.")]
        check(ov and ov[0]["address"] == f"{CUSTOM['static']}/24", f"result ips {res['ips']}")
        check(ov[0].get("gateway") == CUSTOM["gateway"], f"result gateway {ov[0].get('gateway')}")
        inside = self.ip_of("bbox6")
        check(inside == CUSTOM["static"], f"bbox6 eth0 is {inside}")
        ok, _, text = self.ping(self.containers["bbox7"]["netns"], inside)
        other = self.ip_of("bbox7")
        lines = [f"like `docker network create -d overlay --subnet {CUSTOM['subnet']} --gateway {CUSTOM['gateway']} "
                 f"{CUSTOM['name']}` (the conflist's ipam) and `--ip` (CNI_ARGS IP=)",
                 f"bbox6@h2 --ip {CUSTOM['static']}: eth0 {inside} (read inside), result gateway {ov[0]['gateway']}",
                 f"bbox7@h3 (dynamic): eth0 {other}; bbox7 -> bbox6: {text}"]
        check(ok, "; ".join(lines))
        return lines

    # --- 9. teardown -----------------------------------------------------------------------------------
    def step_teardown(self):
        errors, count = [], 0
        for name, c in reversed(list(self.containers.items())):
            for cl, ifname, args, runtime, res in reversed(c["attachments"]):
                count += 1
                try:
                    self.chain("DEL", c["host"], cl, name, c["netns"], ifname, args, runtime, prev=res)
                except StepFailed as e:
                    errors.append(str(e))
            c["attachments"] = []
        check(not errors, "; ".join(errors))
        left = [k for k in self.consul.kv_keys(f"{PREFIX}/")
                if "/leases/" in k or "/attachments/" in k or "/members/" in k or "/owners/" in k]
        check(not left, f"left in Consul: {left}")
        devs = {}
        for h in self.hosts.values():
            names = [l["ifname"] for l in json.loads(self.t.run(h, "ip", "-j", "link").stdout)]
            devs[h.name] = [n for n in names if n.startswith(("ovx-", "ovbr-", "ovv", "gwb"))]
            rules = self.t.run(h, "nft", "list", "ruleset").stdout
            devs[h.name] += [f"nft rule {m}" for m in sorted(set(re.findall(r'comment "(ovl:[^"]*)"', rules)))]
        check(not any(devs.values()), f"left on the hosts: {devs}")
        return [f"DEL of {count} attachments (each chain in reverse, with its cached result)",
                "Consul: no leases, attachments or members left; hosts: no overlay devices, veths or "
                "per-container nftables rules left"]

    # --- the story -------------------------------------------------------------------------------------
    def run(self):
        r = self.r
        r.heading("1. Cluster store (the guide's consul container)")
        self.start()
        self.run_step("Consul server up on cs", self.step_consul)

        r.heading("2. Hosts join: --cluster-store / --cluster-advertise (node config + overlay watch)")
        for name in self.hosts:
            self.run_step(f"{name} uses the store and advertises eth0", lambda n=name: self.step_host(n),
                          needs=["Consul server up on cs"])
        hosts_ok = [f"{n} uses the store and advertises eth0" for n in self.hosts]

        r.heading(f"3. Containers: eth0 on the overlay, {GW_IF} on the gateway bridge")
        self.run_step("bbox1 on h1, network over", lambda: self.step_container("bbox1", "h1", "over"), hosts_ok)
        self.run_step("bbox2 on h2, network over", lambda: self.step_container("bbox2", "h2", "over"), hosts_ok)
        self.run_step("bbox3 on h2, network over2", lambda: self.step_container("bbox3", "h2", "over2"), hosts_ok)
        self.run_step("bbox4 on h3, network over", lambda: self.step_container("bbox4", "h3", "over"), hosts_ok)
        self.run_step("bbox4 also connected to over2 (eth2)", lambda: self.step_connect("bbox4", "over2"),
                      ["bbox4 on h3, network over"])

        r.heading("4. What the cluster store holds")
        self.run_step("networks over and over2 visible from every host", self.step_networks,
                      ["bbox1 on h1, network over", "bbox3 on h2, network over2"])
        self.run_step("hosts registered with their advertised addresses", self.step_members,
                      ["networks over and over2 visible from every host"])

        r.heading("5. Overlay connectivity and isolation")
        self.run_step("cross-host ping over: bbox1@h1 -> bbox2@h2", lambda: self.step_ping("bbox1", "bbox2"),
                      ["bbox1 on h1, network over", "bbox2 on h2, network over"])
        self.run_step("cross-host ping over: bbox2@h2 -> bbox4@h3", lambda: self.step_ping("bbox2", "bbox4"),
                      ["bbox2 on h2, network over", "bbox4 on h3, network over"])
        self.run_step("isolation: over2 cannot reach over", self.step_isolation,
                      ["bbox1 on h1, network over", "bbox3 on h2, network over2"])
        self.run_step("bbox4 (over + over2) reaches both networks", self.step_both,
                      ["bbox4 also connected to over2 (eth2)", "bbox1 on h1, network over",
                       "bbox3 on h2, network over2"])

        r.heading("6. Names: containers find each other by name, per network (Docker's embedded DNS)")
        self.run_step("bbox1@h1 pings bbox2@h2 by name", lambda: self.step_ping_by_name("bbox1", "bbox2"),
                      ["bbox1 on h1, network over", "bbox2 on h2, network over"])
        self.run_step("names are scoped to networks", self.step_names_scoped,
                      ["bbox4 also connected to over2 (eth2)", "bbox3 on h2, network over2"])
        self.run_step("other names go to the upstream resolver", self.step_outside_name,
                      ["bbox2 on h2, network over"])

        r.heading("7. Gateway bridge: outbound NAT and a published port")
        self.run_step("outbound NAT: bbox1 -> internet host", self.step_nat, ["bbox1 on h1, network over"])
        self.run_step(f"published port h1:{HOST_PORT} -> bbox5:{CONTAINER_PORT}, from other hosts", self.step_port,
                      hosts_ok)

        r.heading("8. --subnet / --gateway and a static IP (--ip)")
        self.run_step(f"network {CUSTOM['name']} {CUSTOM['subnet']}, bbox6 --ip {CUSTOM['static']}",
                      self.step_custom, hosts_ok)

        r.heading("9. Clean up")
        self.run_step("every container removed, nothing left behind", self.step_teardown,
                      ["Consul server up on cs"])

    def close(self):
        import shutil
        for d in self.etc_netns:
            shutil.rmtree(d, ignore_errors=True)
        self.t.cleanup()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin-dir", default=os.environ.get("OVL_BIN_DIR", os.path.join(TOP, "build", "bin")),
                    help="where the overlay, overlay-ipam and gwbridge binaries are (default: $OVL_BIN_DIR)")
    ap.add_argument("--colour", choices=["auto", "always", "never"], default="auto")
    ap.add_argument("-v", "--verbose", action="store_true", help="show each step's duration")
    opts = ap.parse_args()
    os.environ["OVL_BIN_DIR"] = os.path.abspath(opts.bin_dir)
    missing = [b for b in ("overlay", "overlay-ipam", "gwbridge", "overlay-resolver") if not os.access(os.path.join(opts.bin_dir, b), os.X_OK)]
    if missing:
        print(f"demo: {', '.join(missing)} not found in {opts.bin_dir} (build first, or run scripts/demo.sh)",
              file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("demo: needs root (it creates network namespaces)", file=sys.stderr)
        return 2
    colour = opts.colour == "always" or (opts.colour == "auto" and sys.stdout.isatty()
                                         and os.environ.get("NO_COLOR") is None)
    report = Report(colour)
    start = time.monotonic()
    report.title("overlay-cni demo: Docker's overlay network with Consul, on simulated hosts")
    print(f"underlay 198.51.100.0/24 (consul .10, h1 .11, h2 .12, h3 .13), internet {INTERNET_IP} via a router")
    demo = Demo(report, opts.verbose)
    interrupted = False
    try:
        demo.run()
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: cleaning up", file=sys.stderr)
    finally:
        demo.close()
    wall = time.monotonic() - start
    failed = report.failed
    total = len(report.results)
    print()
    if interrupted:
        print(report._c("1;31", f"INTERRUPTED after {len(report.results)} steps") + f"   wall time {wall:.1f} s")
        return 130
    if failed:
        print(report._c("1;31", f"FAIL: {total - len(failed)} of {total} steps passed") + f"   wall time {wall:.1f} s")
        for section, name, _ in failed:
            print(f"  failed: {name}")
        return 1
    print(report._c("1;32", f"PASS: all {total} steps passed") + f"   wall time {wall:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
