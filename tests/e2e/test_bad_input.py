"""End-to-end: a table-driven battery of bad inputs (issue 7) against overlay, overlay-ipam and gwbridge.

Topology: one simulated host h1 (198.51.100.11) and a Consul host (198.51.100.10) on the underlay. The
cases live in badinput_cases.py. Each runs its plugin once inside h1 and must fail cleanly: non-zero exit,
a CNI error JSON on stdout with the expected code and a msg naming the culprit, and no change to h1's
kernel state (links, addresses, routes, FDB, nftables, plus the container netns) or to the stores (every
Consul key, every file under the run's data and state directories), compared with a snapshot taken before
the battery. Afterwards every base configuration is proven valid with ADD + DEL, which must also change
the snapshot while attached (so the comparison is shown to see what a plugin does).

    OVL_BADINPUT_FILTER=overlay/netns   runs only the cases whose id contains that text.
"""

import json
import os
import re
import subprocess
import time
import unittest

import badinput_cases as bc
from ovltest.consul import ConsulServer
from ovltest.netns import Topology
from ovltest.plugins import find_binary, plugin_env

CID = bc.CID
SNAP_SEP = "\n--8<--\n"


class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = Topology()
        cls.t.start()
        try:
            cls.cs = cls.t.add_host("cs", "198.51.100.10/24")
            cls.h1 = cls.t.add_host("h1", "198.51.100.11/24")
            cls.consul = ConsulServer(cls.t, cls.cs, "198.51.100.10")
            tmp = cls.tmp = cls.t.tmpdir
            cls.state_dir = os.path.join(tmp, "state")
            cls.node_cfg = os.path.join(tmp, "node-h1.json")
            with open(cls.node_cfg, "w") as f:
                json.dump({"store": cls.consul.store_url, "hostName": "h1", "advertise": "eth0",
                           "stateDir": cls.state_dir}, f)
            with open(os.path.join(tmp, "node-bad.json"), "w") as f:
                f.write("{not json")
            cls.plain_file = os.path.join(tmp, "plain-file")
            with open(cls.plain_file, "w") as f:
                f.write("x")
            cls.container = cls.t.add_container(cls.h1, "c1")
            # Seed the stores so that "no change" is checked against something.
            cls.consul.kv_put("overlay-cni/badinput/sentinel", "1")
            for d in ("data-ipf", "data-gw", "state"):
                os.makedirs(os.path.join(tmp, d), exist_ok=True)
            cls.tmp_dirs = [os.path.join(tmp, d) for d in ("data-ipf", "data-gw", "state")]
            if os.environ.get("OVL_BADINPUT_NO_PRIME") != "1":
                cls.prime()
        except BaseException:
            cls.t.cleanup()
            raise

    @classmethod
    def prime(cls):
        """ADD + DEL once per base configuration, so that what ADD ensures idempotently and never rolls
        back (the gwbridge bridge, the overlay network's VNI claim in Consul and its local cache, the IPAM
        pool directory) is in the baseline: the battery then sees per-container leftovers only.
        OVL_BADINPUT_NO_PRIME=1 runs the battery against a host that has never seen these networks."""
        netns = cls.t.add_container(cls.h1, "prime")
        for plugin in bc.PLUGINS:
            for verb in ("ADD", "DEL"):
                rc, out, err = cls.run_case(bc.Case(plugin, "prime", verb, 0, "", verb=verb), netns=netns)
                if rc != 0:
                    raise AssertionError(f"base config of {plugin} fails {verb}: {out} {err[-800:]}")
        cls.t.remove_container(netns)

    @classmethod
    def tearDownClass(cls):
        cls.t.cleanup()

    # --- running -----------------------------------------------------------------------------------
    @classmethod
    def resolve(self, s):
        if s is None:
            return None
        return {"@container": self.container, "@host": self.h1.path, "@self": "/proc/self/ns/net",
                "@pidns": "/proc/self/ns/pid", "@file": self.plain_file, "@dir": self.tmp,
                "@missing": os.path.join(self.tmp, "no-such-netns")}.get(s, s).replace("{tmp}", self.tmp)

    @classmethod
    def run_case(self, case, stdin=None, env_over=None, netns=None):
        netns = self.resolve(netns or case.netns or "@container")
        env = plugin_env(case.verb, CID, netns, "eth0", "", None, {"OVL_NODE_CONFIG": self.node_cfg})
        for k, v in {**case.env, **(env_over or {})}.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = self.resolve(v)
        if stdin is None:
            stdin = bc.render(case, self.tmp, self.container)
        # Bad cases enter the host by nsenter (cheaper; a runtime also just setns()es); the valid ADD/DEL
        # runs by `ip netns exec`, which gives the plugin the host's own /sys as on a real host.
        how = self.t.exec_argv if case.category in ("prime", "control", "cleanup") else self.t.nsenter_argv
        argv = how(self.h1, find_binary(bc.BINARY[case.plugin]))
        p = subprocess.run(argv, input=stdin, capture_output=True, env=env, timeout=30)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    # --- snapshots ---------------------------------------------------------------------------------
    def snapshot(self):
        script = ("ip -j link; echo '--8<--'; ip -j addr; echo '--8<--'; ip -j route show table all;"
                  "echo '--8<--'; ip -6 -j route show table all; echo '--8<--'; bridge -j fdb show;"
                  "echo '--8<--'; nft -j list ruleset; echo '--8<--';"
                  f"ip -n {self.container.rsplit('/', 1)[1]} -j addr; echo '--8<--';"
                  f"curl -sf '{self.consul.addr}/v1/kv/?recurse'")
        # nsenter rather than `ip netns exec`: read-only netlink queries need no remounted /sys, and
        # this runs after every case.
        out = subprocess.run(self.t.nsenter_argv(self.h1, "sh", "-c", script), capture_output=True, text=True,
                             timeout=30).stdout
        names = ["link", "addr", "route4", "route6", "fdb", "nft", "container", "consul"]
        parts = out.split("--8<--\n")
        snap = {}
        for n, text in zip(names, parts):
            try:
                v = json.loads(text) if text.strip() else None
            except ValueError:
                v = text
            snap[n] = v
        # What the kernel does on its own to fresh links is not plugin state: IPv6 link-local addresses
        # and their routes (they appear, go through DAD and "linkdown" as carrier changes).
        if isinstance(snap.get("addr"), list):
            for link in snap["addr"]:
                link["addr_info"] = [a for a in link.get("addr_info", []) if not a.get("local", "").startswith("fe80:")]
                for k in ("operstate", "flags"):
                    link.pop(k, None)
        for k in ("route4", "route6"):
            if isinstance(snap.get(k), list):
                snap[k] = [r for r in snap[k] if not str(r.get("dst", "")).startswith(("fe80:", "ff00:"))]
                for r in snap[k]:
                    if "linkdown" in r.get("flags", []):
                        r["flags"] = [f for f in r["flags"] if f != "linkdown"]
        if isinstance(snap.get("consul"), list):
            snap["consul"] = sorted((e["Key"], e.get("Value"), e["ModifyIndex"]) for e in snap["consul"])
        files = {}
        for top in self.tmp_dirs:
            for root, dirs, fnames in os.walk(top):
                for d in dirs:
                    files[os.path.join(root, d) + "/"] = None
                for fn in fnames:
                    if fn == "metrics.bin":
                        continue  # the host's call counters: every call, a refused one too, is counted there
                    path = os.path.join(root, fn)
                    try:
                        with open(path, "rb") as f:
                            files[path] = f.read()
                    except OSError as e:
                        files[path] = str(e)
        snap["files"] = files
        return snap

    def diff(self, before, after):
        return [k for k in before if before[k] != after.get(k)]

    def describe(self, before, after):
        """The changed parts; for the stores, which keys and files."""
        out = []
        for k in self.diff(before, after):
            if k == "consul" and isinstance(before[k], list) and isinstance(after[k], list):
                b, a = set(before[k]), set(after[k])
                out.append(f"consul: -{sorted(x[0] for x in b - a)} +{sorted(x[0] for x in a - b)}")
            elif k == "files":
                b, a = before[k], after[k]
                out.append("files: " + str(sorted(p for p in set(a) | set(b) if a.get(p, 0) != b.get(p, 0))))
            else:
                out.append(k)
        return out

    def settle(self, timeout=8.0):
        """A snapshot once two in a row agree (IPv6 DAD on fresh links changes addresses for a while)."""
        snap = self.snapshot()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.5)
            nxt = self.snapshot()
            if nxt == snap:
                return snap
            snap = nxt
        return snap

    def undo(self, case):
        """After an unexpected success: detach, so that later cases start from a clean host."""
        self.run_case(bc.Case(case.plugin, "cleanup", "DEL", 0, "", verb="DEL"))

    # --- the battery -------------------------------------------------------------------------------
    def test_1_battery(self):
        cases = bc.all_cases()
        filt = os.environ.get("OVL_BADINPUT_FILTER")
        if filt:
            cases = [c for c in cases if filt in c.id]
        ids = [c.id for c in cases]
        self.assertEqual(len(ids), len(set(ids)), "duplicate case names")
        if not filt:  # the README states this number: change both together
            self.assertEqual(len(cases), 396)  # + 2 credential-file cases (issue 16), + 4 nested stdin (issue 14)
        base = self.settle()
        for k in ("link", "addr", "route4", "fdb", "nft", "consul"):
            self.assertIsNotNone(base[k], f"snapshot part {k} is empty: {base[k]!r}")
        failures = []
        start = time.monotonic()
        for case in cases:
            rc, out, err = self.run_case(case)
            problems = []
            if rc == 0:
                problems.append("exit status 0")
            try:
                res = json.loads(out)
            except ValueError:
                res = None
                problems.append(f"stdout is not JSON: {out[:200]!r}")
            if res is not None:
                if not isinstance(res, dict) or not {"cniVersion", "code", "msg"} <= set(res):
                    problems.append(f"not a CNI error: {out[:200]}")
                else:
                    if res["code"] != case.code:
                        problems.append(f"code {res['code']}, want {case.code}")
                    culprit = self.resolve(case.culprit)
                    if culprit not in res["msg"]:
                        problems.append(f"msg does not name {culprit!r}")
            if rc == 0 and case.verb == "ADD":
                self.undo(case)
            after = self.snapshot()
            changed = self.describe(base, after)
            if changed:
                problems.append(f"state changed: {changed}")
                base = self.settle()  # report each change once
            if problems:
                msg = res.get("msg") if isinstance(res, dict) else out[:200]
                failures.append(f"{case.id}: {'; '.join(problems)} | msg={msg!r} | stderr={err.strip()[-300:]!r}")
        took = time.monotonic() - start
        counts = {}
        for c in cases:
            counts[c.plugin] = counts.get(c.plugin, 0) + 1
        print(f"\nbad-input battery: {len(cases)} cases {counts} in {took:.1f} s")
        self.assertEqual(failures, [], "\n" + "\n".join(failures))

    def test_2_base_configs_are_valid(self):
        """Each base configuration attaches and detaches, and the snapshot sees the attachment."""
        for i, plugin in enumerate(bc.PLUGINS):
            with self.subTest(plugin=plugin):
                netns = self.t.add_container(self.h1, f"ok{i}")
                before = self.snapshot()
                case = bc.Case(plugin, "control", "ADD", 0, "")
                rc, out, err = self.run_case(case, netns=netns)
                try:
                    self.assertEqual(rc, 0, f"{plugin} ADD failed: {out} {err[-800:]}")
                    self.assertNotEqual(self.diff(before, self.snapshot()), [], f"{plugin} ADD changed nothing")
                finally:
                    rc, out, err = self.run_case(bc.Case(plugin, "control", "DEL", 0, "", verb="DEL"), netns=netns)
                self.assertEqual(rc, 0, f"{plugin} DEL failed: {out} {err[-800:]}")

    def test_3_run_by_hand(self):
        """Without CNI_COMMAND every binary is a command-line tool: --help and --version on stdout with exit 0,
        an unknown argument one line on stderr with exit 2; with CNI_COMMAND set, arguments are ignored."""
        with open(os.path.join(os.environ.get("OVL_SRC_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                               "CMakeLists.txt")) as f:
            version = re.search(r"project\(\S+ VERSION (\S+)", f.read()).group(1)
        plain = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OVL_NODE_CONFIG": self.node_cfg}

        def run(binary, *args, env=plain, stdin=b""):
            p = subprocess.run(self.t.nsenter_argv(self.h1, find_binary(binary), *args), input=stdin,
                               capture_output=True, env=env, timeout=30)
            return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

        for binary in ("overlay", "overlay-ipam", "gwbridge", "overlay-resolver", "overlayctl"):
            with self.subTest(binary=binary):
                for flag in ("--help", "-h"):
                    rc, out, err = run(binary, flag)
                    self.assertEqual((rc, err), (0, ""), out)
                    self.assertTrue(out.startswith(f"Usage: {binary} "), out)
                rc, out, err = run(binary, "--version")
                self.assertEqual((rc, err), (0, ""), out)
                self.assertTrue(out.startswith(f"{binary} {version}"), out)
                self.assertEqual(out.count("\n"), 1, out)
                rc, out, err = run(binary, "--no-such-option")
                self.assertEqual((rc, out), (2, ""), err)
                self.assertEqual(err.count("\n"), 1, err)
                self.assertIn("'--no-such-option'", err)
        # A runtime sets CNI_COMMAND: the protocol runs whatever the arguments.
        for binary in ("overlay", "overlay-ipam", "gwbridge"):
            with self.subTest(binary=binary, cni=True):
                rc, out, err = run(binary, "--help", env=plain | {"CNI_COMMAND": "VERSION"})
                self.assertEqual(rc, 0, err)
                self.assertIn("1.1.0", json.loads(out)["supportedVersions"])
                rc, out, _ = run(binary, "--version", env=plain | {"CNI_COMMAND": "ADD"}, stdin=b"{}")
                self.assertEqual(json.loads(out)["code"], 4)  # CNI_CONTAINERID missing: a CNI error, as before
        # overlay's subcommand is untouched.
        rc, out, err = run("overlay", "watch", "--help")
        self.assertEqual(rc, 0, err)
        self.assertIn("watch", out)
        # Without arguments nor CNI_COMMAND: the CNI error, as before.
        rc, out, _ = run("overlay")
        self.assertEqual((rc, json.loads(out)["code"]), (1, 4))


if __name__ == "__main__":
    unittest.main()
