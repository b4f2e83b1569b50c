"""Shared helpers for the tests that drive our plugins through real CNI clients (libcni, podman, containerd).

    c = RtCluster(nhosts=2)                    # Topology, Consul host, h1..hN with per-host node configs
    c.start_watchers()
    bins = spy_bin_dir(c.t.tmpdir, ...)        # CNI_PATH dir whose wrappers log what each runtime sends
    runner = build_cnirunner(c.t.tmpdir)       # tests/tools/cnirunner, built offline with go
    rootfs = busybox_rootfs(dir)               # from Debian's busybox-static
    oci_image_tar(rootfs, "x.tar", "docker.io/library/busybox:rt")
    ...
    c.cleanup()

Everything lives in the topology's namespaces and temporary directory; nothing touches the root network
namespace or the default /etc/cni, /var/lib/containers or /run/containerd locations.
"""

import glob
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
import unittest

from ovltest.consul import ConsulServer
from ovltest.netns import Topology
from ovltest.plugins import OVL_BIN_DIR, REFERENCE_CNI_DIR
from ovltest.timing import scaled

SRC_DIR = os.environ.get("OVL_SRC_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
PREFIX = "overlay-cni"
OUR_PLUGINS = ("overlay", "overlay-ipam", "gwbridge")
BUSYBOX = "/bin/busybox"


def require_binaries(*names):
    """Raises SkipTest unless OVL_BIN_DIR holds the named plugins (set by ctest). Under OVL_NO_SKIP=1 (CI)
    ovltest.runner reports every skip as a failure."""
    if not OVL_BIN_DIR:
        raise unittest.SkipTest("OVL_BIN_DIR is not set (run through ctest or set it to <build>/bin)")
    missing = [n for n in names if not os.access(os.path.join(OVL_BIN_DIR, n), os.X_OK)]
    if missing:
        raise unittest.SkipTest(f"not built in {OVL_BIN_DIR}: {', '.join(missing)}")


def require_tools(*names):
    """Raises SkipTest (a failure under OVL_NO_SKIP=1) unless every named tool is on PATH."""
    missing = [n for n in names if not shutil.which(n)]
    if missing:
        raise unittest.SkipTest(f"not installed: {', '.join(missing)} (scripts/setup.sh installs them)")


def run(*argv, check=True, timeout=120, **kw):
    p = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} failed rc={p.returncode}:\n{p.stdout[-2000:]}\n"
                             f"{p.stderr[-3000:]}")
    return p


# --- the simulated cluster ------------------------------------------------------------------------
class RtCluster:
    """A Consul host (198.51.100.10) and hosts h1..hN (198.51.100.11..) on an underlay with MTU 1400.
    Each host has its own node config (store, hostName, advertise eth0, its own stateDir)."""

    def __init__(self, nhosts=2, mtu=1400, consul_data=False):
        """consul_data: a persistent single server (a restart keeps the store) instead of a -dev one."""
        self.t = Topology()
        self.t.start()
        try:
            self.cs = self.t.add_host("cs", "198.51.100.10/24")
            self.hosts = [self.t.add_host(f"h{i}", f"198.51.100.{10 + i}/24", mtu=mtu) for i in range(1, nhosts + 1)]
            self.consul = ConsulServer(self.t, self.cs, "198.51.100.10", data_dir=True if consul_data else None)
            self.node_cfg = {}
            for h in self.hosts:
                path = os.path.join(self.t.tmpdir, f"node-{h.name}.json")
                with open(path, "w") as f:
                    json.dump({"store": self.consul.store_url, "hostName": h.name, "advertise": "eth0",
                               "stateDir": os.path.join(self.t.tmpdir, f"state-{h.name}"),
                               # No upstream: the resolver must not relay outside names to this machine's DNS.
                               "resolver": {"upstreams": []}}, f)
                self.node_cfg[h.name] = path
            self.watchers = {}
        except BaseException:
            self.t.cleanup()
            raise

    @property
    def tmp(self):
        return self.t.tmpdir

    def env(self, host):
        return {"OVL_NODE_CONFIG": self.node_cfg[host.name]}

    def start_watchers(self):
        for h in self.hosts:
            log = open(os.path.join(self.tmp, f"watch-{h.name}.log"), "w")
            self.watchers[h.name] = self.t.popen(h, os.path.join(OVL_BIN_DIR, "overlay"), "watch",
                                                 env=self.env(h), stdout=log, stderr=log)
            log.close()

    def start_resolvers(self):
        """overlay-resolver on every host; returns once each has its control socket."""
        for h in self.hosts:
            log = open(os.path.join(self.tmp, f"resolver-{h.name}.log"), "w")
            self.t.popen(h, os.path.join(OVL_BIN_DIR, "overlay-resolver"), env=self.env(h), stdout=log, stderr=log)
            log.close()
        for h in self.hosts:
            state = os.path.join(self.tmp, f"state-{h.name}")
            deadline = time.monotonic() + scaled(10)
            while not glob.glob(os.path.join(state, "ns-*", "resolver.sock")):
                if time.monotonic() > deadline:
                    raise AssertionError(f"overlay-resolver on {h.name} did not start")
                time.sleep(0.02)

    def cleanup(self):
        self.t.cleanup()

    # --- observations ---
    def links(self, where):
        return json.loads(self.t.run(where, "ip", "-j", "link").stdout)

    def link(self, where, ifname):
        return json.loads(self.t.run(where, "ip", "-j", "addr", "show", "dev", ifname).stdout)[0]

    def addrs(self, where, ifname, family="inet"):
        return [f"{a['local']}/{a['prefixlen']}" for a in self.link(where, ifname)["addr_info"]
                if a["family"] == family]

    def routes(self, where):
        return json.loads(self.t.run(where, "ip", "-j", "-4", "route").stdout)

    def attachment_links(self, host):
        """Per-container host-side links our plugins create (overlay veths ovv*, gwbridge veths gwb*)."""
        return [l["ifname"] for l in self.links(host) if l["ifname"].startswith(("ovv", "gwb"))]

    def consul_leftovers(self):
        keys = self.consul.kv_keys(f"{PREFIX}/")
        return [k for k in keys if any(s in k for s in ("/members/", "/attachments/", "/leases/", "/owners/"))]

    def lease_dir(self, host):
        """The host's directory for file-store leases (gwbridge's pool): see gwbridge_plugin(data_dir)."""
        return os.path.join(self.tmp, f"state-{host.name}", "networks")

    def file_leases(self, host):
        """Lease files of the local (file) store under the host's stateDir (lease_dir included)."""
        d = os.path.join(self.tmp, f"state-{host.name}")
        return [p for p in glob.glob(os.path.join(d, "**", "*"), recursive=True)
                if os.path.isfile(p) and re.fullmatch(r"[0-9.]+|[0-9a-f:]+", os.path.basename(p))]

    def nft_rules(self, host):
        return self.t.run(host, "nft", "list", "ruleset").stdout  # a failing nft must not read as "no rules"

    def ping_until(self, netns, ip, deadline_s=3.0):
        """Seconds until the first successful ping, or None after scaled(deadline_s)."""
        start, deadline_s = time.monotonic(), scaled(deadline_s)
        while time.monotonic() - start < deadline_s:
            if self.t.run(netns, "ping", "-n", "-q", "-c", "1", "-W", "0.3", ip, check=False).returncode == 0:
                return time.monotonic() - start
        return None


# --- plugin directory with spies ------------------------------------------------------------------
SPY = """#!/bin/sh
# Records what the runtime sent, then runs the real plugin.
log="{logdir}/$(date +%s%N)-$$-{name}"
# Written whole, then renamed: a test listing *.env while this call runs must not read half a file.
env | grep -E '^(CNI_|OVL_NODE_CONFIG)' | sort > "$log.envpart" && mv "$log.envpart" "$log.env"
cat > "$log.in"
{real} < "$log.in" > "$log.out"
rc=$?
cat "$log.out"
echo $rc > "$log.rc"
exit $rc
"""


def spy_bin_dir(dest, logdir, plugins=OUR_PLUGINS, reference=("loopback", "portmap", "bandwidth", "tuning",
                                                               "host-local", "bridge", "firewall")):
    """One directory usable as CNI_PATH, /opt/cni/bin or cni_plugin_dirs: a logging wrapper per plugin of
    ours (real binaries from OVL_BIN_DIR) and symlinks to the reference plugins in /usr/lib/cni."""
    os.makedirs(dest, exist_ok=True)
    os.makedirs(logdir, exist_ok=True)
    for name in plugins:
        path = os.path.join(dest, name)
        with open(path, "w") as f:
            f.write(SPY.format(logdir=logdir, name=name, real=os.path.join(OVL_BIN_DIR, name)))
        os.chmod(path, 0o755)
    for name in reference:
        src = os.path.join(REFERENCE_CNI_DIR, name)
        if os.path.exists(src) and not os.path.exists(os.path.join(dest, name)):
            os.symlink(src, os.path.join(dest, name))
    return dest


def spy_calls(logdir, plugin=None):
    """The recorded calls in order: [{plugin, env{}, stdin(dict or str), stdout, rc}]."""
    calls = []
    for envf in sorted(glob.glob(os.path.join(logdir, "*.env")), key=lambda p: int(os.path.basename(p).split("-")[0])):
        base = envf[:-4]
        name = os.path.basename(base).split("-", 2)[2]
        if plugin and name != plugin:
            continue
        with open(envf) as f:
            env = dict(l.rstrip("\n").split("=", 1) for l in f if "=" in l)

        def rd(suffix):
            try:
                with open(base + suffix) as f:
                    return f.read()
            except OSError:
                return None
        stdin = rd(".in") or ""
        try:
            stdin = json.loads(stdin)
        except ValueError:
            pass
        rc = rd(".rc")
        calls.append({"plugin": name, "env": env, "stdin": stdin, "stdout": rd(".out"),
                      "rc": int(rc) if rc and rc.strip() else None})
    return calls


def describe_calls(calls):
    """A compact human-readable transcript (for test output and reports)."""
    out = []
    for c in calls:
        e = c["env"]
        line = (f"{c['plugin']} {e.get('CNI_COMMAND')} id={e.get('CNI_CONTAINERID', '')[:24]} "
                f"netns={e.get('CNI_NETNS', '<unset>')!r} if={e.get('CNI_IFNAME')} args={e.get('CNI_ARGS', '<unset>')!r}")
        s = c["stdin"]
        if isinstance(s, dict):
            extra = {k: s[k] for k in ("cniVersion", "runtimeConfig", "args") if k in s}
            extra["prevResult"] = "yes" if "prevResult" in s else "no"
            line += " " + json.dumps(extra, sort_keys=True)
        line += f" rc={c['rc']}"
        out.append(line)
    return "\n".join(out)


# --- cnirunner ------------------------------------------------------------------------------------
def build_cnirunner(outdir):
    """Builds tests/tools/cnirunner (libcni 1.1.2 from golang-github-appc-cni-dev) offline; returns its path."""
    require_tools("go")
    if not os.path.isdir("/usr/share/gocode/src/github.com/containernetworking/cni/libcni"):
        raise unittest.SkipTest("golang-github-appc-cni-dev is not installed")
    out = os.path.join(outdir, "cnirunner")
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode", GOFLAGS="",
               GOCACHE=os.path.join(outdir, "gocache"), CGO_ENABLED="0")
    run("go", "build", "-o", out, ".", cwd=os.path.join(SRC_DIR, "tests", "tools", "cnirunner"), env=env,
        timeout=300)
    return out


# --- container images -----------------------------------------------------------------------------
def busybox_rootfs(dest):
    """A root filesystem with Debian's static busybox and its applets as symlinks."""
    require_tools(BUSYBOX)
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "dev", "proc", "sys", "tmp", "root", "run", "var"):
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    shutil.copy2(BUSYBOX, os.path.join(dest, "bin", "busybox"))
    applets = run(BUSYBOX, "--list-full").stdout.split()
    for a in applets:
        link = os.path.join(dest, a)
        if a == "bin/busybox" or os.path.lexists(link):
            continue
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink("/bin/busybox", link)
    with open(os.path.join(dest, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    with open(os.path.join(dest, "etc", "group"), "w") as f:
        f.write("root:x:0:\nnogroup:x:65534:\n")
    return dest


def _blob(blobs, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return f"sha256:{digest}", len(data)


def oci_image_tar(rootfs, out_tar, ref, cmd=("/bin/sh",)):
    """Writes an OCI image layout archive (one uncompressed layer) of rootfs, named ref, to out_tar."""
    work = out_tar + ".d"
    blobs = os.path.join(work, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(rootfs)):
            tar.add(os.path.join(rootfs, name), arcname=name)
    layer, layer_size = _blob(blobs, buf.getvalue())
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Cmd": list(cmd), "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
              "rootfs": {"type": "layers", "diff_ids": [layer]}, "history": [{"created_by": "rtlib"}]}
    cfg, cfg_size = _blob(blobs, json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg, "size": cfg_size},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer,
                            "size": layer_size}]}
    man, man_size = _blob(blobs, json.dumps(manifest).encode())
    tag = ref.rsplit(":", 1)[1] if ":" in ref.rsplit("/", 1)[-1] else "latest"
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": man, "size": man_size,
        "platform": {"architecture": "amd64", "os": "linux"},
        "annotations": {"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": tag}}]}
    with open(os.path.join(work, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(work, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with tarfile.open(out_tar, "w") as tar:
        for name in ("oci-layout", "index.json", "blobs"):
            tar.add(os.path.join(work, name), arcname=name)
    shutil.rmtree(work)
    return out_tar


def conflist(path, name, plugins, version="1.0.0"):
    with open(path, "w") as f:
        json.dump({"cniVersion": version, "name": name, "plugins": plugins}, f, indent=1)
    return path


def overlay_plugin(subnet, **extra):
    p = {"type": "overlay", "capabilities": {"mac": True, "ips": True, "aliases": True},
         "ipam": {"type": "overlay-ipam", "subnet": subnet, "store": "consul"}}
    p.update(extra)
    return p


def gwbridge_plugin(data_dir=None, **extra):
    """gwbridge with its usual pool (172.18.0.0/16, local file store). data_dir: where the leases go (tests
    pass RtCluster.lease_dir(host); the default, /var/lib/cni/networks, is shared by the whole machine)."""
    p = {"type": "gwbridge", "capabilities": {"portMappings": True}}
    if data_dir:
        p["ipam"] = {"type": "overlay-ipam", "subnet": "172.18.0.0/16", "pool": "cni_gwbridge", "store": "local",
                     "dataDir": data_dir}
    p.update(extra)
    return p


# --- a private mount namespace for runtimes -------------------------------------------------------
class PrivateMounts:
    """A mount namespace of the test's own, kept by a holder process, in which directories under workdir
    hide /var/lib (libcni's result cache /var/lib/cni, containers/image's /var/lib/containers) and
    /run/netns (where podman and containerd's CRI pin container namespaces). Runtimes run in it through
    argv(), so nothing they write lands in the machine's real directories; it ends with stop().

    nsenter opens every namespace file before entering any, so a --net=/run/netns/HOST path is still
    resolved in the real /run/netns. Paths a runtime reports from inside (CNI_NETNS=/run/netns/netns-..)
    are seen with enter_netns_argv()."""

    def __init__(self, topo, workdir):
        self.dirs = {"/var/lib": os.path.join(workdir, "var-lib"), "/run/netns": os.path.join(workdir, "run-netns")}
        for d in self.dirs.values():
            os.makedirs(d, exist_ok=True)
        script = ('mount --bind "$1" /var/lib && mount --bind "$2" /run/netns && echo ready && '
                  'exec sleep 2147483647')
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "mounts",
                                      self.dirs["/var/lib"], self.dirs["/run/netns"]],
                                     stdout=subprocess.PIPE, text=True, start_new_session=True)
        topo.procs.append(self.proc)  # stopped at topology cleanup too
        if self.proc.stdout.readline().strip() != "ready":
            raise AssertionError(f"private mount namespace not set up (exit {self.proc.wait()})")

    def path(self, real):
        """Where a path under /var/lib or /run/netns inside the namespace is on the real filesystem."""
        for top, d in self.dirs.items():
            if real == top or real.startswith(top + "/"):
                return d + real[len(top):]
        raise ValueError(f"{real} is not under {', '.join(self.dirs)}")

    def argv(self, *argv, net=None):
        """argv run in this mount namespace (and in the network namespace at path net)."""
        a = ["nsenter", f"--mount=/proc/{self.proc.pid}/ns/mnt"]
        return a + ([f"--net={net}"] if net else []) + [str(x) for x in argv]

    def enter_netns_argv(self, netns_path, *argv):
        """argv inside a network namespace pinned at netns_path within this mount namespace."""
        return self.argv("nsenter", f"--net={netns_path}", *argv)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


# --- podman (CNI backend) -------------------------------------------------------------------------
class Podman:
    """podman 4.3 with the CNI backend, private storage and config under workdir, run inside host's netns
    with nsenter (ip netns exec would remount /sys and hide the cgroups from runc) and in a PrivateMounts
    namespace: its libcni cache and the container namespaces it pins stay under workdir."""

    def __init__(self, topo, host, workdir, plugin_dir, node_config):
        self.t, self.host, self.dir = topo, host, workdir
        self.netdir = os.path.join(workdir, "net.d")
        for d in ("net.d", "graph", "run", "tmp", "static", "volumes"):
            os.makedirs(os.path.join(workdir, d), exist_ok=True)
        self.mounts = PrivateMounts(topo, workdir)
        self.containers_conf = os.path.join(workdir, "containers.conf")
        with open(self.containers_conf, "w") as f:
            f.write(f"""[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[network]
network_backend = "cni"
cni_plugin_dirs = ["{plugin_dir}"]
network_config_dir = "{self.netdir}"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{workdir}/events.log"
tmp_dir = "{workdir}/tmp"
static_dir = "{workdir}/static"
volume_path = "{workdir}/volumes"
""")
        self.storage_conf = os.path.join(workdir, "storage.conf")
        with open(self.storage_conf, "w") as f:
            f.write(f'[storage]\ndriver = "vfs"\ngraphroot = "{workdir}/graph"\nrunroot = "{workdir}/run"\n')
        self.env = dict(os.environ, CONTAINERS_CONF=self.containers_conf, CONTAINERS_STORAGE_CONF=self.storage_conf,
                        CONTAINERS_REGISTRIES_CONF=os.path.join(workdir, "registries.conf"),
                        OVL_NODE_CONFIG=node_config)
        with open(self.env["CONTAINERS_REGISTRIES_CONF"], "w") as f:
            f.write("unqualified-search-registries = []\n")
        for k in [k for k in self.env if k.startswith("CNI_")]:
            del self.env[k]

    def add_network(self, name, plugins, version="1.0.0"):
        return conflist(os.path.join(self.netdir, f"{name}.conflist"), name, plugins, version)

    def argv(self, *args):
        return self.mounts.argv("podman", "--cgroup-manager", "cgroupfs", *args, net=self.host.path)

    def run(self, *args, check=True, timeout=120):
        return run(*self.argv(*args), check=check, timeout=timeout, env=self.env)

    def cleanup(self):
        """Removes every container of this podman (DEL runs for each), then the storage."""
        self.run("rm", "-af", "-t", "0", check=False, timeout=60)
        self.mounts.stop()  # graph's mounts were made in that namespace and end with it
        shutil.rmtree(self.dir, ignore_errors=True)


# --- containerd -----------------------------------------------------------------------------------
class Containerd:
    """A private containerd 1.6 (own root, state, socket; CRI off unless cri=True) in host's netns and in
    a PrivateMounts namespace of its own: libcni's cache (/var/lib/cni) and the namespaces CRI pins
    (/run/netns/cni-..) stay under workdir.

    ctr_cni() runs `ctr` the way `ctr run --cni` needs it: in host's netns and the same mount namespace,
    where our conflist dir hides /etc/cni/net.d and a private /opt holds cni/bin, so nothing is written to
    the real /etc/cni, /opt or /var/lib/cni."""

    def __init__(self, topo, host, workdir, env=None, cri_config=""):
        self.t, self.host, self.dir = topo, host, workdir
        self.sock = os.path.join(workdir, "ctd.sock")
        self.netdir = os.path.join(workdir, "net.d")
        self.optdir = os.path.join(workdir, "opt")
        for d in ("root", "state", "net.d", "opt/cni"):
            os.makedirs(os.path.join(workdir, d), exist_ok=True)
        self.mounts = PrivateMounts(topo, workdir)
        self.cachedir = self.mounts.path("/var/lib/cni")  # libcni's result cache
        for src, dst in ((self.netdir, "/etc/cni/net.d"), (self.optdir, "/opt")):
            run(*self.mounts.argv("sh", "-c", 'mkdir -p "$2" && mount --bind "$1" "$2"', "bind", src, dst))
        self.config = os.path.join(workdir, "config.toml")
        disabled = "" if cri_config else 'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        with open(self.config, "w") as f:
            f.write(f"""version = 2
root = "{workdir}/root"
state = "{workdir}/state"
{disabled}
[grpc]
  address = "{self.sock}"
[ttrpc]
  address = "{self.sock}.ttrpc"
[debug]
  address = "{self.sock}.debug"
[metrics]
  address = ""
{cri_config}
""")
        self.env = dict(os.environ, **(env or {}))
        for k in [k for k in self.env if k.startswith("CNI_")]:
            del self.env[k]
        self.log = open(os.path.join(workdir, "containerd.log"), "w")
        self.proc = subprocess.Popen(self.mounts.argv("containerd", "--config", self.config, net=host.path),
                                     stdout=self.log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        topo.procs.append(self.proc)  # stopped at topology cleanup too
        deadline = time.monotonic() + scaled(30)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"containerd exited: {self.log_tail()}")
            if os.path.exists(self.sock) and self.ctr("version", check=False).returncode == 0:
                return
            time.sleep(0.2)
        raise AssertionError(f"containerd did not start: {self.log_tail()}")

    def log_tail(self, n=30):
        with open(os.path.join(self.dir, "containerd.log"), errors="replace") as f:
            return "".join(f.readlines()[-n:])

    def ctr(self, *args, check=True, timeout=120, ns="rt"):
        return run("ctr", "-a", self.sock, "-n", ns, *args, check=check, timeout=timeout, env=self.env)

    def set_cni(self, conflist_path, bin_dir):
        """The single conflist ctr will load (first file in /etc/cni/net.d) and the plugin dir."""
        for f in os.listdir(self.netdir):
            os.unlink(os.path.join(self.netdir, f))
        shutil.copy(conflist_path, os.path.join(self.netdir, "10-" + os.path.basename(conflist_path)))
        link = os.path.join(self.optdir, "cni", "bin")
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(bin_dir, link)

    def ctr_cni_argv(self, *args, ns="rt"):
        return self.mounts.argv("ctr", "-a", self.sock, "-n", ns, *args, net=self.host.path)

    def ctr_cni(self, *args, check=True, timeout=120, ns="rt"):
        return run(*self.ctr_cni_argv(*args, ns=ns), check=check, timeout=timeout, env=self.env)

    def stop(self):
        """Kills every task, stops containerd and its shims, unmounts and removes the state."""
        for ns in self.ctr("namespaces", "ls", "-q", check=False).stdout.split():
            for task in self.ctr("tasks", "ls", "-q", check=False, ns=ns).stdout.split():
                self.ctr("tasks", "kill", "-s", "SIGKILL", task, check=False, ns=ns)
                self.ctr("tasks", "delete", "-f", task, check=False, ns=ns)
            for c in self.ctr("containers", "ls", "-q", check=False, ns=ns).stdout.split():
                self.ctr("containers", "delete", c, check=False, ns=ns)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        # Shims outlive containerd: kill those started for this instance (their command line names our socket).
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().split(b"\0")
            except OSError:
                continue
            if cmd and cmd[0].endswith(b"containerd-shim-runc-v2") and self.sock.encode() in b" ".join(cmd):
                try:
                    os.kill(int(pid), 9)
                except ProcessLookupError:
                    pass
        self.mounts.stop()  # the snapshots' and pinned namespaces' mounts were made there and end with it
        shutil.rmtree(self.dir, ignore_errors=True)


# --- CRI over gRPC with hand-encoded protobuf -----------------------------------------------------
def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_bytes(num, data):
    data = data.encode() if isinstance(data, str) else data
    return _varint(num << 3 | 2) + _varint(len(data)) + data


def pb_int(num, n):
    return _varint(num << 3) + _varint(n & 0xFFFFFFFFFFFFFFFF) if n else b""


def pb_map(num, d):
    return b"".join(pb_bytes(num, pb_bytes(1, k) + pb_bytes(2, v)) for k, v in d.items())


def pb_decode(data):
    """{field number: [value, ...]}; length-delimited values stay bytes, varints become ints."""
    out, i = {}, 0
    while i < len(data):
        key, i = _read_varint(data, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, i = _read_varint(data, i)
        elif wire == 2:
            ln, i = _read_varint(data, i)
            val, i = data[i:i + ln], i + ln
        elif wire == 1:
            val, i = data[i:i + 8], i + 8
        elif wire == 5:
            val, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        out.setdefault(num, []).append(val)
    return out


def _read_varint(data, i):
    n = shift = 0
    while True:
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


class CriClient:
    """The few RuntimeService calls kubelet makes for a pod's network (runtime.v1), via python3-grpcio."""

    PROTO = {"tcp": 0, "udp": 1, "sctp": 2}

    def __init__(self, sock, api="runtime.v1"):
        import grpc  # python3-grpcio (Debian's /usr/bin/python3)
        self.channel = grpc.insecure_channel("unix://" + sock)
        self.api = api

    def call(self, method, payload, timeout=120):
        fn = self.channel.unary_unary(f"/{self.api}.RuntimeService/{method}")
        return pb_decode(fn(payload, timeout=timeout))

    def run_pod(self, name, namespace, uid, port_mappings=(), annotations=None):
        meta = pb_bytes(1, name) + pb_bytes(2, uid) + pb_bytes(3, namespace)
        ports = b"".join(pb_bytes(5, pb_int(1, self.PROTO[p.get("protocol", "tcp")]) + pb_int(2, p["containerPort"])
                                  + pb_int(3, p["hostPort"]) + pb_bytes(4, p.get("hostIP", "")))
                         for p in port_mappings)
        config = pb_bytes(1, meta) + pb_bytes(2, name) + ports + pb_map(7, annotations or {}) + pb_bytes(8, b"")
        return self.call("RunPodSandbox", pb_bytes(1, config))[1][0].decode()

    def pod_ip(self, pod_id):
        status = pb_decode(self.call("PodSandboxStatus", pb_bytes(1, pod_id))[1][0])
        network = pb_decode(status.get(5, [b""])[0])
        return network.get(1, [b""])[0].decode()

    def stop_pod(self, pod_id):
        self.call("StopPodSandbox", pb_bytes(1, pod_id))

    def remove_pod(self, pod_id):
        self.call("RemovePodSandbox", pb_bytes(1, pod_id))

    def close(self):
        self.channel.close()


def cri_config(bin_dir, conf_dir, sandbox_image):
    """The [plugins] section enabling containerd's CRI with our CNI dirs (restrict_oom_score_adj: this VM
    lacks CAP_SYS_RESOURCE)."""
    return f"""[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox_image}"
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{bin_dir}"
    conf_dir = "{conf_dir}"
    max_conf_num = 1
"""


# --- buildah ---------------------------------------------------------------------------------------
class Buildah:
    """buildah 1.28 with private storage (vfs) and containers.conf (runc, cgroupfs, CNI backend with our
    plugin and conflist dirs) under workdir, always run inside host's netns with nsenter: `buildah run
    --network NAME` sets up CNI networking in the namespace buildah runs in, so it must never run in the
    root namespace (there it would add a cni-podman0 bridge, NAT rules and set ip_forward=1)."""

    def __init__(self, topo, host, workdir, plugin_dir, node_config):
        self.t, self.host, self.dir = topo, host, workdir
        self.netdir = os.path.join(workdir, "net.d")
        for d in ("net.d", "graph", "run", "tmp"):
            os.makedirs(os.path.join(workdir, d), exist_ok=True)
        self.mounts = PrivateMounts(topo, workdir)
        self.cachedir = self.mounts.path("/var/lib/cni")  # libcni's cache, fed back on DEL
        self.containers_conf = os.path.join(workdir, "containers.conf")
        with open(self.containers_conf, "w") as f:
            f.write(f"""[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
netns = "private"
[network]
network_backend = "cni"
cni_plugin_dirs = ["{plugin_dir}"]
network_config_dir = "{self.netdir}"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{workdir}/events.log"
tmp_dir = "{workdir}/tmp"
""")
        self.storage_conf = os.path.join(workdir, "storage.conf")
        with open(self.storage_conf, "w") as f:
            f.write(f'[storage]\ndriver = "vfs"\ngraphroot = "{workdir}/graph"\nrunroot = "{workdir}/run"\n')
        self.env = dict(os.environ, CONTAINERS_CONF=self.containers_conf, CONTAINERS_STORAGE_CONF=self.storage_conf,
                        CONTAINERS_REGISTRIES_CONF=os.path.join(workdir, "registries.conf"),
                        OVL_NODE_CONFIG=node_config, TMPDIR=os.path.join(workdir, "tmp"))
        with open(self.env["CONTAINERS_REGISTRIES_CONF"], "w") as f:
            f.write("unqualified-search-registries = []\n")
        for k in [k for k in self.env if k.startswith(("CNI_", "BUILDAH_"))]:
            del self.env[k]

    def add_network(self, name, plugins, version="1.0.0"):
        return conflist(os.path.join(self.netdir, f"{name}.conflist"), name, plugins, version)

    def argv(self, *args):
        """nsenter into host's netns (keeps /sys, unlike ip netns exec) and our PrivateMounts namespace."""
        return self.mounts.argv("buildah", "--cgroup-manager", "cgroupfs", *args, net=self.host.path)

    def run(self, *args, check=True, timeout=120):
        return run(*self.argv(*args), check=check, timeout=timeout, env=self.env)

    def from_rootfs(self, rootfs, name):
        """A working container `name` made `from scratch` with rootfs copied in; returns its name."""
        self.run("from", "--pull=never", "--name", name, "scratch")
        self.run("copy", name, rootfs + "/", "/")
        return name

    def cleanup(self):
        """Removes every working container of this buildah, then its mount namespace and storage."""
        self.run("rm", "--all", check=False, timeout=60)
        self.mounts.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
