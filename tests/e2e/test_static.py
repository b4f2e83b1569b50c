"""The programs are static and need nothing from the node's userland (issue 17).

(a) test_version_in_empty_root: each program alone in an empty directory, entered with chroot: VERSION for
    the plugins, --help for overlayctl and overlay-resolver.
(b) test_gwbridge_ipam_in_bare_root: gwbridge + overlay-ipam (file store) ADD and DEL from a root that holds
    only the binaries, with /proc, /sys, /dev and /run/netns bound, inside a simulated host; the veth, the
    container's address and the nftables rules are checked, and that DEL leaves none of them.
(c) test_overlay_consul_in_debian11_root: the demo's overlay + overlay-ipam (Consul store) ADD and DEL in a
    Debian 11 root (glibc 2.31) made with debootstrap from this machine's mirror, cached in
    /var/cache/overlay-cni/debian11-root (the first run takes a few minutes). The node config names the Consul
    server by a host name that only the root's /etc/hosts knows: resolved without NSS (libcurl uses c-ares).
Every run is traced with strace: a program that opens a shared object or an NSS database fails the test.

Every program must be static (nf_tables through common/nfnl, no libnftables), so a dynamic build
(-DOVL_STATIC=OFF) fails here.
"""

import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from ovltest.consul import ConsulServer
from ovltest.faults import nft_rules
from ovltest.netns import Topology
from ovltest.plugins import OVL_BIN_DIR, OVL_SRC_DIR, find_binary

PROGRAMS = {"overlay": "plugin", "overlay-ipam": "plugin", "gwbridge": "plugin",
            "overlayctl": "--help", "overlay-resolver": "--help"}
DEBIAN11_CACHE = os.environ.get("OVL_DEBIAN11_ROOT_CACHE", "/var/cache/overlay-cni/debian11-root")
# What a static program has no reason to open: shared objects (dlopen, NSS modules, gconv) and NSS databases.
FORBIDDEN_OPEN = re.compile(r'"[^"]*(\.so(\.[0-9]+)*|/etc/(passwd|group|services|protocols|shadow))"')


def is_static_elf(path):
    """No program interpreter (PT_INTERP): the kernel runs it without ld.so."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:
            return False
        phoff = int.from_bytes(head[32:40], "little")
        phentsize = int.from_bytes(head[54:56], "little")
        phnum = int.from_bytes(head[56:58], "little")
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return all(int.from_bytes(table[i * phentsize:i * phentsize + 4], "little") != 3 for i in range(phnum))


def elf_sections(path):
    """{name: (address, size)} of an ELF file's sections."""
    secs = {}
    for line in subprocess.run(["readelf", "-SW", path], capture_output=True, text=True, check=True).stdout.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", line)
        if m:
            secs[m[1]] = (int(m[2], 16), int(m[3], 16))
    return secs


def elf_segments(path):
    """[(type, address, memory size, flags)] of an ELF file's LOAD and GNU_RELRO segments."""
    segs = []
    for line in subprocess.run(["readelf", "-lW", path], capture_output=True, text=True, check=True).stdout.splitlines():
        m = re.match(r"\s*(LOAD|GNU_RELRO)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+"
                     r"0x([0-9a-f]+)\s+([RWE ]+?)\s+0x", line)
        if m:
            segs.append((m[1], int(m[2], 16), int(m[3], 16), m[4].replace(" ", "")))
    return segs


def install(root, names, bindir="."):
    """Copies the programs into root/bindir."""
    dest = os.path.join(root, bindir)
    os.makedirs(dest, exist_ok=True)
    for name in names:
        src = find_binary(name)
        shutil.copy2(src, dest)


def forbidden_opens(trace, names):
    """Lines of an strace -f log where a process running one of our programs opens what it must not."""
    ours, bad = set(), []
    for line in trace.splitlines():
        pid, _, call = line.partition(" ")
        call = call.strip()
        m = re.match(r'execve\("([^"]+)"', call)
        if m:
            if os.path.basename(m.group(1)) in names and call.endswith("= 0"):
                ours.add(pid)
            else:
                ours.discard(pid)  # e.g. a delegate's child that runs something else
        elif pid in ours and call.startswith(("open", "openat")) and FORBIDDEN_OPEN.search(call):
            bad.append(line)
    return bad


def run_in_root(test, root, argv, env, stdin="", ns=None, mounts=(), overlay_lower=None, topo=None):
    """Runs argv chrooted into root, in a private mount namespace with mounts [(source, target in root)]
    bound first; inside network namespace ns when given. overlay_lower: root becomes an overlayfs whose
    lower layer is this (read-only, e.g. the cached Debian 11 root) and whose upper layer is root itself.
    Returns the CompletedProcess; fails the test if strace sees a forbidden open."""
    work = tempfile.mkdtemp(prefix="ovl-static-run-")
    test.addCleanup(shutil.rmtree, work, True)
    script = ["set -e"]
    top = root
    if overlay_lower:
        top = os.path.join(work, "merged")
        os.makedirs(os.path.join(work, "work"))
        os.makedirs(top)
        script.append(f'mount -t overlay overlay -o "lowerdir={overlay_lower},upperdir={root},'
                      f'workdir={work}/work" "{top}"')
    for src, dst in mounts:
        os.makedirs(os.path.join(root, dst.lstrip("/")), exist_ok=True)
        script.append(f'mount --rbind "{src}" "{top}/{dst.lstrip("/")}"')
    script.append(f'exec chroot "{top}" "$@"')
    trace = os.path.join(work, "strace.log")
    argv = ["strace", "-f", "-qq", "-e", "trace=execve,open,openat", "-o", trace,
            "unshare", "-m", "--propagation", "private", "sh", "-c", "\n".join(script), "sh"] + list(argv)
    if ns is not None:
        argv = topo.exec_argv(ns, *argv)
    env = dict(env, PATH="/usr/sbin:/usr/bin:/sbin:/bin")  # nothing else from the test's environment
    p = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, timeout=120)
    with open(trace) as f:
        bad = forbidden_opens(f.read(), set(PROGRAMS))
    test.assertEqual(bad, [], f"{argv[-1]}: a static program opened a shared object or an NSS database")
    return p


# What a plugin in a root needs from the host: the kernel's views, devices, and the container's netns.
HOST_MOUNTS = [("/proc", "/proc"), ("/sys", "/sys"), ("/dev", "/dev"), ("/run/netns", "/run/netns")]


def plugin_in_root(test, topo, host, root, plugin, command, conf, cid, netns, overlay_lower=None):
    """A CNI call of /opt/cni/bin/<plugin> chrooted into root, inside host; CNI_PATH is /opt/cni/bin."""
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": netns, "CNI_IFNAME": "eth0",
           "CNI_PATH": "/opt/cni/bin"}
    p = run_in_root(test, root, [f"/opt/cni/bin/{plugin}"], env, stdin=json.dumps(conf), ns=host, mounts=HOST_MOUNTS,
                    overlay_lower=overlay_lower, topo=topo)
    test.assertEqual(p.returncode, 0, f"{plugin} {command}: {p.stdout} {p.stderr[-2000:]}")
    return json.loads(p.stdout) if p.stdout.strip() else None


class StaticTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for name in PROGRAMS:
            find_binary(name)
        for tool in ("strace", "unshare", "chroot", "debootstrap"):
            if not shutil.which(tool):
                raise unittest.SkipTest(f"{tool} is not installed (scripts/setup.sh)")

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ovl-static-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_every_program_is_static(self):
        for name in PROGRAMS:
            with self.subTest(program=name):
                self.assertTrue(is_static_elf(find_binary(name)), f"{name} has a program interpreter (ld.so)")

    def test_executed_code_is_placed_first(self):
        """cmake/hot-text.ld took effect: each plugin's start-up and ADD entry points lie in .text.ovl_hot, the
        stretch before .text that holds the code profiled runs executed (issue 17, peak RSS). Fails when the
        list no longer matches the code (run scripts/hot-text.sh) or a build links without it."""
        entry = {"overlay": "_ZN3ovl7overlay6cmdAdd", "overlay-ipam": "_ZN3ovl4ipam6cmdAdd",
                 "gwbridge": "_ZN3ovl8gwbridge6cmdAdd"}
        for name, add in entry.items():
            with self.subTest(program=name):
                path = find_binary(name)
                secs = elf_sections(path)
                self.assertIn(".text.ovl_hot", secs, f"{name} was linked without cmake/hot-text.ld")
                start, size = secs[".text.ovl_hot"]
                self.assertLess(start, secs[".text"][0])
                self.assertGreater(size, 256 << 10, f"{name}: only {size} bytes matched cmake/hot-text.ld")
                syms = {}
                for line in subprocess.run(["nm", path], capture_output=True, text=True, check=True).stdout.splitlines():
                    p = line.split()
                    if len(p) == 3 and p[1] in "tT":
                        syms.setdefault(p[2], int(p[0], 16))
                wanted = ["main", "__libc_start_main", "curl_easy_perform" if name != "gwbridge" else "nl_connect"]
                wanted += [s for s in syms if s.startswith(add)][:1] or [add]
                for sym in wanted:
                    self.assertIn(sym, syms, f"{name} has no symbol {sym}")
                    self.assertTrue(start <= syms[sym] < start + size, f"{name}: {sym} is not in .text.ovl_hot")

    def test_read_constants_are_placed_first_and_stay_read_only(self):
        """cmake/hot-text.ld's data half took effect: the constants traced runs read (.rodata.ovl_hot, with
        glibc's C-locale character table that every run reads) start a segment that is neither executable nor
        writable, and the relocated tables they read (.data.rel.ro.ovl_hot) stay inside RELRO (issue 17)."""
        for name in ("overlay", "overlay-ipam", "gwbridge"):
            with self.subTest(program=name):
                path = find_binary(name)
                secs = elf_sections(path)
                segs = elf_segments(path)
                for sec in (".rodata.ovl_hot", ".data.rel.ro.ovl_hot"):
                    self.assertIn(sec, secs, f"{name} was linked without the data half of cmake/hot-text.ld")
                ro, relro = secs[".rodata.ovl_hot"], secs[".data.rel.ro.ovl_hot"]
                self.assertGreater(ro[1], 32 << 10, f"{name}: only {ro[1]} bytes of constants matched")
                self.assertLess(ro[0], secs[".rodata"][0])
                load = [s for s in segs if s[0] == "LOAD" and s[1] <= ro[0] < s[1] + s[2]]
                self.assertEqual(len(load), 1)
                self.assertEqual(load[0][3], "R", f"{name}: .rodata.ovl_hot is in a {load[0][3]} segment")
                self.assertTrue(any(s[0] == "GNU_RELRO" and s[1] <= relro[0] and relro[0] + relro[1] <= s[1] + s[2]
                                    for s in segs), f"{name}: .data.rel.ro.ovl_hot is outside RELRO")
                nm = subprocess.run(["nm", path], capture_output=True, text=True, check=True).stdout
                table = [int(l.split()[0], 16) for l in nm.splitlines() if l.endswith(" _nl_C_LC_CTYPE_class")]
                self.assertTrue(table and ro[0] <= table[0] < ro[0] + ro[1],
                                f"{name}: glibc's C-locale table is not in .rodata.ovl_hot")

    def test_version_in_empty_root(self):
        for name, how in PROGRAMS.items():
            with self.subTest(program=name):
                root = os.path.join(self.tmp, name)
                install(root, [name])
                if how == "plugin":
                    p = run_in_root(self, root, [f"/{name}"], {"CNI_COMMAND": "VERSION"},
                                    stdin='{"cniVersion": "1.0.0"}')
                    self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                    self.assertIn("1.0.0", json.loads(p.stdout)["supportedVersions"])
                else:
                    p = run_in_root(self, root, [f"/{name}", "--help"], {})
                    self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                    self.assertIn("usage", (p.stdout + p.stderr).lower())

    def test_gwbridge_ipam_in_bare_root(self):
        root = os.path.join(self.tmp, "root")
        install(root, ["gwbridge", "overlay-ipam"], "opt/cni/bin")
        with Topology() as t:
            h = t.add_host("h1", "198.51.100.1/24")
            netns = t.add_container(h, "c1")
            cid = f"static-{t.prefix}"
            conf = {"cniVersion": "1.0.0", "name": "gwstatic", "type": "gwbridge",
                    "ipam": {"type": "overlay-ipam", "subnet": "172.18.0.0/16", "store": "local",
                             "dataDir": "/var/lib/cni/gwstatic"}}

            def plugin(command):
                return plugin_in_root(self, t, h, root, "gwbridge", command, conf, cid, netns)

            res = plugin("ADD")
            address = res["ips"][0]["address"].split("/")[0]
            self.assertTrue(address.startswith("172.18."), res)
            out = t.run(netns, "ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout
            self.assertIn(f"inet {address}/", out)
            veths = [i["name"] for i in res["interfaces"] if not i.get("sandbox") and i["name"] != "cni_gwbridge"]
            links = [l["ifname"] for l in json.loads(t.run(h, "ip", "-j", "link", "show").stdout)]
            self.assertTrue(veths and all(v in links for v in veths), f"{veths} not in {links}")
            # Without port mappings gwbridge adds no rule of its own per container: the bridge's rules, made
            # by its first ADD, are tagged with the bridge (plugins/gwbridge/rules.hpp).
            rules = [r.get("comment", "") for r in nft_rules(t, h)]
            self.assertIn("ovl-br:cni_gwbridge", rules, f"the bridge's rules are missing: {rules}")
            leases = os.path.join(root, "var/lib/cni/gwstatic")
            self.assertIn(address, [f for _, _, files in os.walk(leases) for f in files])

            plugin("DEL")
            links = [l["ifname"] for l in json.loads(t.run(h, "ip", "-j", "link", "show").stdout)]
            self.assertEqual([v for v in veths if v in links], [])
            rules = [r.get("comment", "") for r in nft_rules(t, h)]
            self.assertEqual([c for c in rules if cid in c or c == "ovl-br:cni_gwbridge"], [],
                             "the bridge's last DEL leaves its rules")
            self.assertNotIn(address, [f for _, _, files in os.walk(leases) for f in files])
            out = t.run(netns, "ip", "-o", "link", "show").stdout
            self.assertNotIn("eth0", out)

    def test_overlay_consul_in_debian11_root(self):
        lower = debian11_root()
        with open(os.path.join(lower, "etc/os-release")) as f:
            self.assertIn('VERSION_ID="11"', f.read())
        upper = os.path.join(self.tmp, "upper")
        install(upper, ["overlay", "overlay-ipam"], "opt/cni/bin")
        with Topology() as t:
            cs = t.add_host("cs", "198.51.100.10/24")
            h = t.add_host("h1", "198.51.100.11/24", mtu=1400)
            consul = ConsulServer(t, cs, "198.51.100.10")
            os.makedirs(os.path.join(upper, "etc/cni"))
            with open(os.path.join(upper, "etc/machine-id"), "w") as f:  # a node has one (the host's identity)
                f.write(os.urandom(16).hex() + "\n")
            with open(os.path.join(upper, "etc/hosts"), "w") as f:
                f.write("127.0.0.1 localhost\n198.51.100.10 consul-server.static-test\n")
            with open(os.path.join(upper, "etc/cni/overlay-node.json"), "w") as f:
                json.dump({"store": f"consul://consul-server.static-test:{consul.http_port}", "hostName": "h1",
                           "advertise": "eth0"}, f)
            netns = t.add_container(h, "c1")
            cid = f"static-{t.prefix}"
            conf = {"cniVersion": "1.0.0", "name": "over", "type": "overlay",
                    "ipam": {"type": "overlay-ipam", "subnet": "10.0.0.0/24", "store": "consul"}}

            def plugin(command):
                return plugin_in_root(self, t, h, upper, "overlay", command, conf, cid, netns, overlay_lower=lower)

            res = plugin("ADD")
            address = res["ips"][0]["address"].split("/")[0]
            self.assertTrue(address.startswith("10.0.0."), res)
            out = t.run(netns, "ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout
            self.assertIn(f"inet {address}/", out)
            def leases():
                return [k for k in consul.kv_keys("overlay-cni/ipam/") if k.endswith(f"/leases/{address}")]
            self.assertEqual(len(leases()), 1, "the lease is not in Consul")
            plugin("DEL")
            self.assertEqual(leases(), [])
            self.assertNotIn("eth0", t.run(netns, "ip", "-o", "link", "show").stdout)


def debian11_root():
    """A Debian 11 minbase root made with debootstrap from this machine's mirror, once, then reused."""
    root = os.path.join(DEBIAN11_CACHE, "minbase")
    if os.path.isdir(root):
        return root
    os.makedirs(DEBIAN11_CACHE, exist_ok=True)
    with open(os.path.join(DEBIAN11_CACHE, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isdir(root):
            return root
        mirror = subprocess.run(["bash", "-c", f'. "{OVL_SRC_DIR}/scripts/lib/apt-private.sh" && debian_mirror'],
                                capture_output=True, text=True, check=True).stdout.strip()
        tmp = tempfile.mkdtemp(prefix=".build-", dir=DEBIAN11_CACHE)
        p = subprocess.run(["debootstrap", "--variant=minbase", "bullseye", tmp, mirror], capture_output=True,
                           text=True, timeout=1200)
        if p.returncode != 0:
            shutil.rmtree(tmp, True)
            raise AssertionError(f"debootstrap bullseye from {mirror} failed: {p.stdout[-2000:]}{p.stderr[-2000:]}")
        os.rename(tmp, root)
    return root


if __name__ == "__main__":
    unittest.main()
