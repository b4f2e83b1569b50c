"""Fault injection for end-to-end tests: stop a plugin at a named point inside ADD and SIGKILL it there, and
list everything our plugins can leave behind on a host or in Consul.

    call = PausedCall(t, h1, "overlay", "ADD", conf, "c1", c1, "eth0", "overlay.after-veth", extra_env=env)
    call.wait_paused()              # the pid that reached the point (the plugin, or its IPAM child)
    rc, res, out, err = call.kill() # SIGKILL to the whole process group (or child_only=True)
    assert our_links(t, h1) == [] and nft_comments(t, h1) == [] and lease_files(data) == []

The plugins honour OVL_TEST_PAUSE_AT=<point> and OVL_TEST_PAUSE_FILE=<path> (common/util/testhook.cpp): at
that point they write their pid to the file and sleep. A delegated IPAM plugin inherits both variables.
"""

import glob
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
import uuid

from .netns import ns_name
from .plugins import find_binary, plugin_env
from .timing import scaled

# Host links our plugins create: overlay veths, bridges and VXLAN devices, gwbridge veths.
OUR_LINK_PREFIXES = ("ovv", "ovbr-", "ovx-", "gwb")
# Consul keys that belong to containers (network configs, VNIs, host records and cursors stay by design).
CONTAINER_KEY_PARTS = ("/members/", "/attachments/", "/leases/", "/owners/")


def wait_for(pred, timeout, what, interval=0.02):
    """Polls pred() until it returns something truthy (returned) or scaled(timeout) seconds pass
    (AssertionError); see ovltest.timing."""
    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def _proc_stat(pid):
    """(state, pgid) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return fields[0], int(fields[2])
    except (OSError, IndexError, ValueError):
        return None


def group_pids(pgid):
    """Live (non-zombie) processes of a process group."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _proc_stat(int(d))
            if st and st[1] == pgid and st[0] != "Z":
                out.append(int(d))
    return out


def read_proc(pid, what):
    """/proc/PID/cmdline or environ as a list of strings ([] when the process is gone)."""
    try:
        with open(f"/proc/{pid}/{what}", "rb") as f:
            return [s.decode(errors="replace") for s in f.read().split(b"\0") if s]
    except OSError:
        return []


class PausedCall:
    """A plugin call started with OVL_TEST_PAUSE_AT=point, in a process group of its own."""

    def __init__(self, topology, host, binary, command, conf, cid, netns, ifname, point, extra_env=None,
                 cni_args=""):
        self.binary, self.point = binary, point
        self.pause_file = os.path.join(topology.tmpdir, f"pause-{uuid.uuid4().hex[:8]}")
        env = dict(extra_env or {})
        env.update({"OVL_TEST_PAUSE_AT": point, "OVL_TEST_PAUSE_FILE": self.pause_file})
        env = plugin_env(command, cid, netns, ifname, cni_args, extra_env=env)
        argv = topology.exec_argv(ns_name(host), find_binary(binary))  # `ip netns exec` execs the plugin
        stdin = os.path.join(topology.tmpdir, f"stdin-{uuid.uuid4().hex[:8]}")
        with open(stdin, "w") as f:
            f.write(conf if isinstance(conf, str) else json.dumps(conf))
        with open(stdin) as f:
            self.proc = subprocess.Popen(argv, stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                         env=env, start_new_session=True)
        os.unlink(stdin)
        topology.procs.append(self.proc)  # killed at cleanup if the test fails before kill()
        self.paused_pid = None

    @property
    def pgid(self):
        return self.proc.pid

    def wait_paused(self, timeout=20):
        """Waits until a process of the call reached the point; returns its pid."""
        timeout = scaled(timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with open(self.pause_file) as f:
                    text = f.read()
            except FileNotFoundError:
                text = ""
            if text.endswith("\n"):
                self.paused_pid = int(text)
                return self.paused_pid
            if self.proc.poll() is not None:
                out, err = self.proc.stdout.read(), self.proc.stderr.read()
                raise AssertionError(f"{self.binary} exited {self.proc.returncode} before reaching {self.point}: "
                                     f"{out} {err[-1500:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"{self.binary} did not reach {self.point} within {timeout} s")
            time.sleep(0.01)

    def kill(self, child_only=False, timeout=30):
        """SIGKILL the whole group (default) or only the paused process, then waits for the plugin to end and
        for no process of the group to remain. Returns (rc, parsed stdout JSON or None, stdout, stderr)."""
        try:
            if child_only:
                os.kill(self.paused_pid, signal.SIGKILL)
            else:
                os.killpg(self.pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = self.proc.communicate(timeout=timeout)
        wait_for(lambda: not group_pids(self.pgid), timeout, f"process group {self.pgid} to end")
        if self.paused_pid and self.paused_pid != self.pgid:  # a delegate runs in a group of its own and dies
            wait_for(lambda: not group_pids(self.paused_pid), timeout,  # with its parent (parent-death signal)
                     f"the paused delegate's process group {self.paused_pid} to end")
        parsed = None
        if out.strip():
            try:
                parsed = json.loads(out)
            except ValueError:
                pass
        return self.proc.returncode, parsed, out, err


# --- what our plugins leave behind --------------------------------------------------------------------------
def links(topology, ns):
    return [l["ifname"] for l in json.loads(topology.run(ns, "ip", "-j", "link", "show").stdout)]


def our_links(topology, host):
    """Our links on a host (overlay veths, bridges and VXLAN devices; gwbridge veths)."""
    return sorted(n for n in links(topology, host) if n.startswith(OUR_LINK_PREFIXES))


def container_links(topology, netns):
    """Interfaces inside a container namespace other than lo."""
    return [n for n in links(topology, netns) if n != "lo"]


def nft_rules(topology, host):
    """Every nftables rule of the host (the "rule" objects of `nft -j list ruleset`). A failing or
    unparsable `nft` raises: a leak check must not read an error as "no rules"."""
    p = topology.run(host, "nft", "-j", "list", "ruleset", check=False)
    try:
        items = json.loads(p.stdout)["nftables"] if p.returncode == 0 else None
    except (ValueError, KeyError, TypeError):
        items = None
    if items is None:
        raise AssertionError(f"nft list ruleset in {host} failed rc={p.returncode}: {p.stdout[-500:]} {p.stderr[-500:]}")
    return [item["rule"] for item in items if "rule" in item]


def nft_elements(topology, host):
    """(family, table, set, comment) of every element of every nftables map and set of the host."""
    p = topology.run(host, "nft", "-j", "list", "ruleset", check=False)
    if p.returncode != 0:
        raise AssertionError(f"nft list ruleset in {host} failed rc={p.returncode}: {p.stderr[-500:]}")
    out = []
    for item in json.loads(p.stdout)["nftables"]:
        s = item.get("map") or item.get("set")
        for e in (s or {}).get("elem", []):
            key = e[0] if isinstance(e, list) else e
            comment = key.get("elem", {}).get("comment", "") if isinstance(key, dict) else ""
            out.append((s["family"], s["table"], s["name"], comment))
    return out


def gwbridge_records(state_dir):
    """(network, containerID, ifname) of every gwbridge attachment record under a node config's stateDir
    (<stateDir>/ns-<inode>/gwbridge/<network>/<veth>.json)."""
    out = []
    for path in glob.glob(os.path.join(state_dir, "ns-*", "gwbridge", "*", "*.json")):
        with open(path) as f:
            r = json.load(f)
        out.append((r["network"], r["containerID"], r["ifname"]))
    return out


def nft_comments(topology, host):
    """Comments of our nftables rules and map/set elements (tagged "ovl:" or "ovl#") in every table of the
    host (gwbridge tags an attachment's port mappings; the rules a bridge has once are "ovl-br:...")."""
    return ([r["comment"] for r in nft_rules(topology, host) if r.get("comment", "").startswith(("ovl:", "ovl#"))]
            + [c for *_, c in nft_elements(topology, host) if c.startswith(("ovl:", "ovl#"))])


def _is_ip(name):
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def lease_files(*dirs):
    """Lease files (named by their address) under the given IPAM data directories."""
    found = []
    for d in dirs:
        for root, _, files in os.walk(d):
            found += [os.path.join(root, f) for f in files if _is_ip(f)]
    return sorted(found)


def container_keys(consul, prefix="overlay-cni"):
    """Consul keys that belong to containers: memberships, attachments, leases and owner indexes."""
    return sorted(k for k in consul.kv_keys(f"{prefix}/") if any(p in k for p in CONTAINER_KEY_PARTS))


def journal_entries(state_dir):
    """Pending IPAM releases in a host's journal (file names)."""
    d = os.path.join(state_dir, "journal")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def journaled_releases(state_dir):
    """(pool, containerID, ifname) of every pending release in a host's journal."""
    out = []
    for n in journal_entries(state_dir):
        try:
            with open(os.path.join(state_dir, "journal", n)) as f:
                e = json.load(f)
        except (OSError, ValueError):
            continue
        out.append((e.get("pool"), e.get("containerID"), e.get("ifname")))
    return sorted(out)


def start_lying_proxy(topology, host, ip, consul_port=8500, port=8501):
    """Starts ovltest/lying_proxy.py on host (the Consul host), listening on ip:port in front of ip:consul_port.
    Returns (mode file, output file): what the proxy does is set by writing the mode file (see the script)."""
    mode = os.path.join(topology.tmpdir, "proxy-mode")
    out_path = os.path.join(topology.tmpdir, "proxy.out")
    with open(out_path, "w") as out:
        topology.popen(host, sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lying_proxy.py"),
                       ip, str(port), ip, str(consul_port), mode, stdout=out)

    def ready():
        with open(out_path) as f:
            return "ready" in f.read()
    wait_for(ready, 10, "the proxy to listen")
    return mode, out_path
