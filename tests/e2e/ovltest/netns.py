"""Multi-host topologies made of network namespaces, for end-to-end tests.

Everything lives in namespaces named "<prefix>-<suffix>" with a per-run random prefix ("o" + 4 hex
chars). The root network namespace is never touched: links are created inside the namespaces with
`ip -n NS link add ... peer ... netns OTHER`, and sysctls are written only through `ip netns exec`.

    with Topology() as t:
        h1 = t.add_host("h1", "198.51.100.1/24", mtu=1400)
        h2 = t.add_host("h2", "198.51.100.2/24", mtu=1400)
        t.pin_underlay_neighbours()         # optional: many hosts in one kernel, see there
        assert t.ping(h1, h2.ip)
        inet = t.add_internet()             # 203.0.113.1 behind router 198.51.100.254
        c1 = t.add_container(h1, "c1")      # "/run/netns/<prefix>-h1-c1", empty netns
        t.run(h1, "ip", "-br", "addr")

Cleanup (context exit, atexit, SIGTERM/SIGHUP, Ctrl-C) kills every process still running in our
namespaces and deletes them. A run killed with SIGKILL leaves a marker in /run/ovltest; the next
Topology sweeps namespaces of runs whose process is gone.
"""

import atexit
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

IP = shutil.which("ip") or "/usr/sbin/ip"
MARK_DIR = "/run/ovltest"
UNDERLAY = ipaddress.ip_network("198.51.100.0/24")
ROUTER_IP = "198.51.100.254"
INTERNET = ipaddress.ip_network("203.0.113.0/24")
INTERNET_ROUTER_IP = "203.0.113.254"

_live = []
_lock = threading.Lock()
_handlers_installed = False


class CommandError(subprocess.CalledProcessError):
    def __str__(self):
        out = (self.stderr or "").strip() or (self.stdout or "").strip()
        return f"{' '.join(map(str, self.cmd))} exited {self.returncode}: {out[-2000:]}"


def sh(*argv, input=None, check=True, timeout=60, env=None):
    """Runs a command (in the current namespace), text mode, capturing output."""
    argv = [str(a) for a in argv]
    p = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout, env=env)
    if check and p.returncode != 0:
        raise CommandError(p.returncode, argv, p.stdout, p.stderr)
    return p


def ns_name(ns):
    """Accepts a Host, a netns name or a /run/netns/NAME path."""
    if isinstance(ns, Host):
        return ns.ns
    ns = str(ns)
    if ns.startswith("/run/netns/"):
        return ns[len("/run/netns/"):]
    if "/" in ns:
        raise ValueError(f"not a named netns: {ns}")
    return ns


def _netns_list():
    out = sh(IP, "netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _kill_netns_pids(ns, grace=2.0):
    """Kills every process whose network namespace is ns (ours by construction)."""
    out = sh(IP, "netns", "pids", ns, check=False).stdout
    pids = [int(p) for p in out.split() if p.isdigit() and int(p) != os.getpid()]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while pids and time.monotonic() < deadline:
            pids = [p for p in pids if _pid_alive(p) and not _is_zombie(p)]
            if pids:
                time.sleep(0.05)
        if not pids:
            return


def _is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _delete_prefix(prefix):
    for ns in _netns_list():
        if ns.startswith(prefix + "-"):
            _kill_netns_pids(ns)
            sh(IP, "netns", "del", ns, check=False)


DEFAULT_STATE_DIR = "/run/overlay-cni"  # kv::kDefaultStateDir: plugins called without a stateDir use it


def _live_netns_inodes():
    inodes = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                inodes.add(os.stat(f"/proc/{pid}/ns/net").st_ino)
            except OSError:
                pass
    for name in _netns_list():
        try:
            inodes.add(os.stat(f"/run/netns/{name}").st_ino)
        except OSError:
            pass
    return inodes


def _sweep_state_dirs():
    """Removes <stateDir>/ns-<inode> directories of network namespaces that no longer exist: what tests that
    name no stateDir leave under the default one (VNI caches, locks, host memory)."""
    if not os.path.isdir(DEFAULT_STATE_DIR):
        return
    live = None
    for name in os.listdir(DEFAULT_STATE_DIR):
        if not (name.startswith("ns-") and name[3:].isdigit()):
            continue
        live = _live_netns_inodes() if live is None else live
        if int(name[3:]) not in live:
            shutil.rmtree(os.path.join(DEFAULT_STATE_DIR, name), ignore_errors=True)


def sweep_stale():
    """Deletes namespaces left by runs that died without cleaning up (their pid is gone), and the default
    state directory's entries of namespaces that are gone."""
    _sweep_state_dirs()
    if not os.path.isdir(MARK_DIR):
        return
    for prefix in os.listdir(MARK_DIR):
        path = os.path.join(MARK_DIR, prefix)
        try:
            with open(path) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if not _pid_alive(pid):
            _delete_prefix(prefix)
            try:
                os.unlink(path)
            except OSError:
                pass


def _cleanup_all():
    for t in list(_live):
        t.cleanup()


def _on_signal(signum, frame):
    # Unwind through context managers (and then atexit) instead of dying with namespaces left behind.
    # KeyboardInterrupt rather than SystemExit: unittest swallows SystemExit and would run on.
    raise KeyboardInterrupt(f"signal {signum}")


def _install_handlers():
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_cleanup_all)
    if threading.current_thread() is threading.main_thread():
        for s in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(s) in (signal.SIG_DFL, None):
                signal.signal(s, _on_signal)
        # SIGINT keeps Python's default: KeyboardInterrupt unwinds the context managers.


class Host:
    """A namespace on the underlay: `ns` is its name, `ip` its underlay address, `path` its netns path."""

    def __init__(self, topo, name, ns, cidr, mtu, ifname="eth0"):
        self.topo, self.name, self.ns, self.mtu, self.ifname = topo, name, ns, mtu, ifname
        self.iface = ipaddress.ip_interface(cidr) if cidr else None
        self.cidr = str(self.iface) if cidr else None
        self.ip = str(self.iface.ip) if cidr else None

    @property
    def path(self):
        return f"/run/netns/{self.ns}"

    def run(self, *argv, **kw):
        return self.topo.run(self, *argv, **kw)

    def popen(self, *argv, **kw):
        return self.topo.popen(self, *argv, **kw)

    def ping(self, ip, **kw):
        return self.topo.ping(self, ip, **kw)

    def __str__(self):
        return self.ns

    def __repr__(self):
        return f"Host({self.name}, ns={self.ns}, ip={self.cidr})"


class Topology:
    def __init__(self, prefix=None, keep=False):
        self.prefix = prefix
        self.keep = keep or os.environ.get("OVLTEST_KEEP") == "1"
        self.namespaces = []  # creation order
        self.hosts = {}
        self.containers = {}  # path -> host name
        self.procs = []
        self.router = None
        self.internet = None
        self.switch = None
        self.tmpdir = None
        self._ports = 0
        self._next_ip = 1
        self._cleaned = False
        self._started = False

    # --- lifecycle -------------------------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    def start(self):
        if self._started:
            return self
        _install_handlers()
        sweep_stale()
        os.makedirs(MARK_DIR, exist_ok=True)
        with _lock:
            existing = set(_netns_list())
            while self.prefix is None:
                p = "o" + secrets.token_hex(2)
                if not os.path.exists(os.path.join(MARK_DIR, p)) and not any(n.startswith(p + "-") for n in existing):
                    self.prefix = p
            with open(os.path.join(MARK_DIR, self.prefix), "w") as f:
                f.write(f"{os.getpid()}\n")
            _live.append(self)
        self._started = True
        self.tmpdir = tempfile.mkdtemp(prefix=f"ovltest-{self.prefix}-")
        try:
            self.switch = self._add_ns("sw")
            self._ip("-n", self.switch, "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0")
            self._ip("-n", self.switch, "link", "set", "br0", "up")
        except BaseException:
            self.cleanup()
            raise
        return self

    def cleanup(self):
        if self._cleaned or not self._started:
            return
        self._cleaned = True
        for p in reversed(self.procs):
            _stop_process(p)
        if not self.keep:
            for ns in reversed(self.namespaces):
                _kill_netns_pids(ns)
                sh(IP, "netns", "del", ns, check=False)
            _delete_prefix(self.prefix)  # anything created under our prefix by the code under test
            if self.tmpdir:
                shutil.rmtree(self.tmpdir, ignore_errors=True)
            try:
                os.unlink(os.path.join(MARK_DIR, self.prefix))
            except OSError:
                pass
        else:
            print(f"ovltest: keeping namespaces {self.prefix}-* and {self.tmpdir}", file=sys.stderr)
        with _lock:
            if self in _live:
                _live.remove(self)

    # --- building blocks -------------------------------------------------------------------------
    def _ip(self, *args):
        return sh(IP, *args)

    def _add_ns(self, suffix):
        name = f"{self.prefix}-{suffix}"
        self.namespaces.append(name)  # recorded first: cleaned up even if creation half-fails
        self._ip("netns", "add", name)
        self._ip("-n", name, "link", "set", "lo", "up")
        return name

    def _plug(self, ns, ifname, mtu):
        """Connects ns to the switch bridge by a veth (both ends with the given MTU)."""
        self._ports += 1
        port = f"p{self._ports}"
        self._ip("-n", self.switch, "link", "add", port, "type", "veth", "peer", "name", ifname, "netns", ns)
        self._ip("-n", self.switch, "link", "set", port, "mtu", str(mtu), "master", "br0", "up")
        self._ip("-n", ns, "link", "set", ifname, "mtu", str(mtu), "up")

    def _auto_ip(self):
        used = {h.ip for h in self.hosts.values() if h.ip}
        while True:
            ip = str(UNDERLAY.network_address + self._next_ip)
            self._next_ip += 1
            if ip not in used and ip != ROUTER_IP:
                return f"{ip}/{UNDERLAY.prefixlen}"

    def add_host(self, name, underlay_ip=None, mtu=1500):
        """A host namespace with eth0 on the underlay switch. underlay_ip "198.51.100.N[/24]"."""
        if not re.fullmatch(r"[a-z][a-z0-9]{0,9}", name) or name in self.hosts or name in ("sw", "rt", "inet"):
            raise ValueError(f"bad or duplicate host name {name!r}")
        cidr = underlay_ip or self._auto_ip()
        if "/" not in cidr:
            cidr += f"/{UNDERLAY.prefixlen}"
        ns = self._add_ns(name)
        self._plug(ns, "eth0", mtu)
        self._ip("-n", ns, "addr", "add", cidr, "dev", "eth0")
        host = Host(self, name, ns, cidr, mtu)
        self.hosts[name] = host
        if self.router:
            self._ip("-n", ns, "route", "replace", "default", "via", ROUTER_IP)
        return host

    def add_router(self, mtu=1500):
        """A router at 198.51.100.254 (forwarding on, in its own namespace); hosts route through it."""
        if self.router:
            return self.router
        ns = self._add_ns("rt")
        self._plug(ns, "eth0", mtu)
        self._ip("-n", ns, "addr", "add", f"{ROUTER_IP}/{UNDERLAY.prefixlen}", "dev", "eth0")
        self.run(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.router = Host(self, "rt", ns, f"{ROUTER_IP}/{UNDERLAY.prefixlen}", mtu)
        for h in self.hosts.values():
            self._ip("-n", h.ns, "route", "replace", "default", "via", ROUTER_IP)
        return self.router

    def add_internet(self, ip="203.0.113.1/24"):
        """An "internet" host on 203.0.113.0/24 behind the router (created if needed)."""
        if self.internet:
            return self.internet
        rt = self.add_router()
        ns = self._add_ns("inet")
        self._ip("-n", rt.ns, "link", "add", "up0", "type", "veth", "peer", "name", "eth0", "netns", ns)
        self._ip("-n", rt.ns, "addr", "add", f"{INTERNET_ROUTER_IP}/{INTERNET.prefixlen}", "dev", "up0")
        self._ip("-n", rt.ns, "link", "set", "up0", "up")
        if "/" not in ip:
            ip += f"/{INTERNET.prefixlen}"
        self._ip("-n", ns, "addr", "add", ip, "dev", "eth0")
        self._ip("-n", ns, "link", "set", "eth0", "up")
        self._ip("-n", ns, "route", "add", "default", "via", INTERNET_ROUTER_IP)
        self.internet = Host(self, "inet", ns, ip, 1500)
        return self.internet

    def add_container(self, host, name):
        """An empty netns for a container on host; returns its path /run/netns/<prefix>-<host>-<name>."""
        if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,30}", name):
            raise ValueError(f"bad container name {name!r}")
        hname = host.name if isinstance(host, Host) else str(host)
        ns = self._add_ns(f"{hname}-{name}")
        path = f"/run/netns/{ns}"
        self.containers[path] = hname
        return path

    def remove_container(self, path):
        """Deletes a container netns early (e.g. to test DEL without a netns)."""
        ns = ns_name(path)
        _kill_netns_pids(ns)
        sh(IP, "netns", "del", ns, check=False)
        if ns in self.namespaces:
            self.namespaces.remove(ns)
        self.containers.pop(path, None)

    def pin_underlay_neighbours(self):
        """Permanent ARP entries between every two hosts (and the router) on the underlay; call it after the
        last add_host. All namespaces share the kernel's one IPv4 neighbour table, whose garbage-collection
        limit (gc_thresh3, 1024 by default, settable only in the root namespace) counts the dynamic entries
        of every namespace together: 50 hosts that each talk to 49 VTEPs and to Consul exceed it, and then
        ARP fails in every namespace (table_fulls in /proc/net/stat/arp_cache). Permanent entries are not
        counted. Real hosts each have a table of their own, so this removes an artifact of simulating many
        hosts in one kernel; the overlay's own (container) entries stay dynamic."""
        hosts = [h for h in self.hosts.values() if h.ip] + ([self.router] if self.router else [])
        macs = {h.ns: json.loads(self._ip("-n", h.ns, "-j", "link", "show", "eth0").stdout)[0]["address"]
                for h in hosts}
        for h in hosts:
            batch = "".join(f"neigh replace {o.ip} lladdr {macs[o.ns]} dev eth0 nud permanent\n"
                            for o in hosts if o is not h)
            sh(IP, "-n", h.ns, "-batch", "-", input=batch)

    # --- running things --------------------------------------------------------------------------
    def exec_argv(self, ns, *argv):
        return [IP, "netns", "exec", ns_name(ns)] + [str(a) for a in argv]

    def nsenter_argv(self, ns, *argv):
        """For podman/buildah/containerd: nsenter keeps /sys (ip netns exec remounts it)."""
        return ["nsenter", f"--net=/run/netns/{ns_name(ns)}"] + [str(a) for a in argv]

    def run(self, ns, *argv, input=None, env=None, check=True, timeout=60):
        """Runs argv inside ns (`ip netns exec`); env entries are added to os.environ."""
        full_env = None
        if env:
            full_env = dict(os.environ)
            full_env.update({k: str(v) for k, v in env.items()})
        return sh(*self.exec_argv(ns, *argv), input=input, check=check, timeout=timeout, env=full_env)

    def popen(self, ns, *argv, env=None, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw):
        """Starts argv in the background inside ns; stopped at cleanup."""
        full_env = dict(os.environ)
        if env:
            full_env.update({k: str(v) for k, v in env.items()})
        p = subprocess.Popen(self.exec_argv(ns, *argv), env=full_env, stdout=stdout, stderr=stderr,
                             start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def ping(self, from_ns, ip, count=1, timeout=2, size=None, df=False):
        argv = ["ping", "-n", "-q", "-c", count, "-W", timeout, "-i", "0.2"]
        if size is not None:
            argv += ["-s", size]
        if df:
            argv += ["-M", "do"]
        return self.run(from_ns, *argv, ip, check=False, timeout=timeout * count + 10).returncode == 0


def _stop_process(p, grace=3.0):
    if p.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            return
        try:
            p.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def root_snapshot():
    """What tests must leave unchanged in the root namespace: links, addresses, routes, forwarding."""
    def j(*args):
        out = sh(IP, "-j", *args, check=False).stdout.strip()
        return json.loads(out) if out else []
    links = sorted((l.get("ifindex"), l.get("ifname"), l.get("mtu"), tuple(l.get("flags", [])), l.get("address"),
                    l.get("master")) for l in j("link", "show"))
    addrs = sorted((a.get("ifname"), tuple(sorted((i.get("local"), i.get("prefixlen")) for i in a.get("addr_info", []))))
                   for a in j("addr", "show"))
    def route_keys(rs):  # "expires" counts down on RA-learned routes
        return sorted(json.dumps({k: v for k, v in r.items() if k != "expires"}, sort_keys=True) for r in rs)
    routes = route_keys(j("route", "show", "table", "all"))
    routes6 = route_keys(j("-6", "route", "show", "table", "all"))
    sysctls = {}
    for name in ("net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding"):
        try:
            with open(f"/proc/sys/{name}") as f:
                sysctls[name] = f.read().strip()
        except OSError:
            pass
    return {"links": links, "addrs": addrs, "routes": routes, "routes6": routes6, "sysctls": sysctls}
