"""End-to-end: every kind of finding `overlayctl diag` knows (issue 15, item 3), injected on one host, reported by
`diag --json` with its kind and object, repaired by `diag --fix` (or, for the kinds diag cannot repair, reported
as "not fixable" and repaired by hand), and the host healthy afterwards with its containers still reaching the
other host's. test_overlayctl.py covers vxlan-missing, flood-missing, lease-stale and nft-rule-stale; this
module covers the rest, and fails when tools/overlayctl grows a kind that neither module injects.

Topology: Consul on cs, hosts h1 and h2 (no watchers: `overlay watch` would repair some of the faults before
diag sees them), network fixnet with container c1 on h1 and c2 on h2, network spare defined by `overlayctl
network create` with no containers. Every fault is made on h1.
"""

import glob
import json
import os
import re
import time
import unittest

from ovltest.cleanup import run_all
from ovltest.drift import Drift, ip, recreate_vxlan, run_drift, vxlan_snapshot
from ovltest.faults import our_links, wait_for
from ovltest.plugins import find_binary, run_plugin
from ovltest.timing import scaled
from rtlib import PREFIX, SRC_DIR, RtCluster

# Kinds whose injection and repair test_overlayctl.py (test_3_diag_reports_and_repairs_faults) asserts, and
# mtu-mismatch (report only), which test_mtu.py injects.
COVERED_ELSEWHERE = {"vxlan-missing", "flood-missing", "lease-stale", "nft-rule-stale",
                     "mtu-mismatch",  # test_mtu: a container whose MTU is not the network's
                     "health-pair-down", "health-path-mtu"}  # test_health: a path made to drop, a report planted


def kinds_in_source():
    """Every finding kind tools/overlayctl can report: the first argument of NetCheck::add and the kind of
    each Finding built directly (in a push_back or a named Finding)."""
    kinds = set()
    for path in glob.glob(os.path.join(SRC_DIR, "tools", "overlayctl", "diag_*.cpp")):
        with open(path) as f:
            text = f.read()
        kinds |= set(re.findall(r'\badd\("([a-z]+(?:-[a-z]+)+)"', text))
        kinds |= set(re.findall(r'push_back\(\{[^,{}]+, "([a-z]+(?:-[a-z]+)+)"', text))
        kinds |= set(re.findall(r'Finding \w+\{[^,{}]+, "([a-z]+(?:-[a-z]+)+)"', text))
    return kinds


class DiagFix(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = RtCluster(nhosts=2)
        cls.t, cls.kv = cls.c.t, cls.c.consul
        cls.h1, cls.h2 = cls.c.hosts
        cls.conf = {"cniVersion": "1.0.0", "name": "fixnet", "type": "overlay",
                    "ipam": {"type": "overlay-ipam", "subnet": "10.50.0.0/24"}}
        cls.attached = []
        try:
            cls.n1, cls.r1 = cls.attach(cls.h1, "c1")
            cls.n2, cls.r2 = cls.attach(cls.h2, "c2")
            cls.ip2 = cls.r2["ips"][0]["address"].split("/")[0]
            cls.ctl(cls.h1, "network", "create", "spare", "--subnet", "10.51.0.0/24")
            for h in cls.c.hosts:  # one pass of the watcher: h1 learns of h2, which joined after it
                cls.t.run(h, find_binary("overlay"), "watch", "--once", env=cls.c.env(h))
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        failed = run_all([lambda h=h, cid=cid: cls.call(h, "DEL", cid, "") for h, cid in cls.attached])
        left = {h.name: our_links(cls.t, h) for h in cls.c.hosts}
        cls.c.cleanup()
        assert not failed, f"DEL in cleanup failed: {failed}"
        assert not any(left.values()), f"links left after DEL: {left}"

    @classmethod
    def call(cls, host, command, cid, netns):
        rc, res, out, err = run_plugin(cls.t, host, "overlay", command, cls.conf, cid, netns, "eth0",
                                       extra_env=cls.c.env(host))
        if rc != 0:
            raise AssertionError(f"{command} {cid} on {host.name}: rc={rc} {out} {err[-2000:]}")
        return res

    @classmethod
    def attach(cls, host, cid):
        netns = cls.t.add_container(host, cid)
        res = cls.call(host, "ADD", cid, netns)
        cls.attached.append((host, cid))
        return netns, res

    @classmethod
    def ctl(cls, host, *args, rc=0):
        p = cls.t.run(host, find_binary("overlayctl"), *args, env=cls.c.env(host), check=False)
        if rc is not None and p.returncode != rc:
            raise AssertionError(f"overlayctl {' '.join(args)} on {host.name}: rc={p.returncode}, want {rc}\n"
                                 f"{p.stdout}\n{p.stderr}")
        return p

    def diag(self, *args, rc=None):
        p = self.ctl(self.h1, "diag", "--json", *args, rc=rc)
        return p.returncode, json.loads(p.stdout)

    def probe(self, row):
        """(healthy, the kinds found, the findings as text); healthy also means c1 still reaches c2."""
        rc, rep = self.diag()
        kinds = ",".join(sorted({f["kind"] for f in rep["findings"]}))
        text = json.dumps(rep["findings"])
        self.assertEqual(rc, 0 if rep["healthy"] else 1, text)
        if rep["healthy"] and not self.t.ping(self.n1, self.ip2, timeout=2):
            return False, "c1 cannot reach c2", text
        return rep["healthy"], kinds, text

    def fix(self, kind, manual=None):
        """The repair of a row: `diag --fix` must say "fixed" for every finding of `kind`; a kind diag
        cannot repair is reported "not fixable" (exit 1) and `manual` then repairs it by hand."""
        def run():
            try:
                rc, rep = self.diag("--fix")
                outcomes = {f["outcome"] for f in rep["findings"] if f["kind"] == kind}
                self.assertEqual(outcomes, {"not fixable"} if manual else {"fixed"}, rep)
                self.assertEqual(rc, 1 if manual else 0, rep)
                self.assertEqual(rep["healthy"], not manual, rep)
            finally:
                if manual:
                    manual()
        return run

    # ---------------------------------------------------------------------------------------------------------
    def test_1_every_kind_injected_reported_and_repaired(self):
        started = time.monotonic()
        t, kv, h1, h2 = self.t, self.kv, self.h1, self.h2
        vni = json.loads(kv.kv_get(f"{PREFIX}/networks/fixnet/config"))["vni"]
        spare = json.loads(kv.kv_get(f"{PREFIX}/networks/spare/config"))["vni"]
        vx, br, veth = f"ovx-{vni}", f"ovbr-{vni}", self.r1["interfaces"][1]["name"]
        snap = vxlan_snapshot(t, h1, vx)
        member_key = f"{PREFIX}/networks/fixnet/members/h1"
        member = kv.kv_get(member_key)
        ip1 = self.r1["ips"][0]["address"].split("/")[0]
        lease_key = f"{PREFIX}/ipam/fixnet/leases/{ip1}"
        lease = kv.kv_get(lease_key)
        ghost = {"att": f"{PREFIX}/attachments/fixnet/h1/ghost/eth0",
                 "lease": f"{PREFIX}/ipam/fixnet/leases/10.50.0.99",
                 "owner": f"{PREFIX}/ipam/fixnet/owners/h1/ghost/eth0"}

        def put(key, value):
            return lambda: kv.kv_put(key, value)

        def on_h1(*argv):
            return lambda: ip(t, h1, *argv)

        def fake_vxlan(**override):
            return lambda: recreate_vxlan(t, h1, snap, **override)

        def stray_veth(name, bridge):
            """A veth named like a container's host end, on `bridge`, that the store does not know."""
            ip(t, h1, "link", "add", name, "type", "veth", "peer", "name", name + "p")
            ip(t, h1, "link", "set", name, "master", bridge, "up")

        def network_devices(v, port=None):
            def make():
                ip(t, h1, "link", "add", f"ovbr-{v}", "type", "bridge")
                ip(t, h1, "link", "add", f"ovx-{v}", "type", "vxlan", "id", str(v), "dstport", "4789", "local", h1.ip,
                   "dev", "eth0")
                ip(t, h1, "link", "set", f"ovx-{v}", "master", f"ovbr-{v}", "up")
                if port:
                    stray_veth(port, f"ovbr-{v}")
            return make

        def delete_links(*names):
            def run():
                for n in names:
                    ip(t, h1, "link", "del", n)
            return run

        def ghost_attachment():
            kv.kv_put(ghost["att"], json.dumps({"containerID": "ghost", "ifname": "eth0", "host": "h1",
                                                "network": "fixnet", "mac": "02:00:00:00:00:99",
                                                "ips": ["10.50.0.99/24"], "time": "2020-01-01T00:00:00Z"}))
            kv.kv_put(ghost["lease"], json.dumps({"containerID": "ghost", "ifname": "eth0", "host": "h1",
                                                  "network": "fixnet", "time": "2020-01-01T00:00:00Z"}))
            kv.kv_put(ghost["owner"], json.dumps(["10.50.0.99"]))

        def ghost_gone():
            self.assertEqual({k: kv.kv_get(v) for k, v in ghost.items()}, {"att": None, "lease": None, "owner": None})

        def and_then(*fns):
            def run():
                for fn in fns:
                    fn()
            return run

        def allow_list_without_h2():
            """The allow-list enforced as a watcher does it, with h2's pair for fixnet gone."""
            t.run(h1, "nft", "-f", "-", input=(
                "add chain inet ovl_vxlan input { type filter hook input priority filter; policy accept; }\n"
                "add rule inet ovl_vxlan input udp dport 4789 ip saddr . @th,96,24 != @allow4 counter drop\n"
                f"delete element inet ovl_vxlan allow4 {{ {h2.ip} . {vni} }}\n"))

        def relax():
            t.run(h1, "nft", "delete", "chain", "inet", "ovl_vxlan", "input")

        other_vtep = json.dumps(dict(json.loads(member), vtep="198.51.100.99"))
        stale_member = json.dumps(dict(json.loads(member), vni=spare))
        rows = [
            Drift("member-missing", lambda: kv.kv_delete(member_key), self.fix("member-missing"), "member-missing",
                  "host h1"),
            Drift("member-stale", put(f"{PREFIX}/networks/spare/members/h1", stale_member), self.fix("member-stale"),
                  "member-stale", "host h1"),
            Drift("member-vtep", put(member_key, other_vtep), self.fix("member-vtep"), "member-vtep", "host h1"),
            Drift("devices-unused", network_devices(spare), self.fix("devices-unused"), "devices-unused",
                  f"ovbr-{spare},ovx-{spare}"),
            Drift("bridge-missing", on_h1("link", "del", br), self.fix("bridge-missing"), "bridge-missing", br),
            Drift("vxlan-misconfigured: vni", fake_vxlan(id=vni + 1), self.fix("vxlan-misconfigured"),
                  "vxlan-misconfigured", vx),
            Drift("vxlan-misconfigured: not a port", on_h1("link", "set", vx, "nomaster"),
                  self.fix("vxlan-misconfigured"), "vxlan-misconfigured", vx),
            Drift("vxlan-misconfigured: down", on_h1("link", "set", vx, "down"), self.fix("vxlan-misconfigured"),
                  "vxlan-misconfigured", vx),
            Drift("vxlan-misconfigured: local address", fake_vxlan(local="198.51.100.99"),
                  self.fix("vxlan-misconfigured"), "vxlan-misconfigured", vx),
            Drift("vxlan-misconfigured: port", fake_vxlan(port=4790), self.fix("vxlan-misconfigured"),
                  "vxlan-misconfigured", vx),
            Drift("flood-stale", lambda: t.run(h1, "bridge", "fdb", "append", "00:00:00:00:00:00", "dev", vx, "dst",
                                               "198.51.100.77"),
                  self.fix("flood-stale"), "flood-stale", "flood entry to 198.51.100.77"),
            Drift("allow-missing", allow_list_without_h2, and_then(self.fix("allow-missing"), relax), "allow-missing",
                  f"VXLAN from {h2.ip} (h2)"),
            Drift("attachment-stale", ghost_attachment, and_then(self.fix("attachment-stale"), ghost_gone),
                  "attachment-stale", "container ghost (eth0)"),
            Drift("veth-detached", on_h1("link", "set", veth, "nomaster"), self.fix("veth-detached"), "veth-detached",
                  veth),
            Drift("lease-missing", lambda: kv.kv_delete(lease_key), self.fix("lease-missing", put(lease_key, lease)),
                  "lease-missing", f"address {ip1}"),
            Drift("veth-orphan", lambda: stray_veth("ovv00deadbeef", br),
                  self.fix("veth-orphan", delete_links("ovv00deadbeef")), "veth-orphan", "ovv00deadbeef"),
            Drift("devices-orphan", network_devices(99999), self.fix("devices-orphan"), "devices-orphan",
                  "ovbr-99999,ovx-99999"),
            Drift("devices-orphan with a container still attached", network_devices(99998, port="ovv00feedf00d"),
                  self.fix("devices-orphan", delete_links("ovbr-99998", "ovx-99998", "ovv00feedf00d")),
                  "devices-orphan", "ovbr-99998,ovx-99998"),
        ]
        passed = run_drift(self, rows, self.probe)
        self.assertEqual(len(passed), len(rows))
        self.assertTrue(self.diag()[1]["healthy"])
        self.assertTrue(json.loads(self.ctl(h2, "diag", "--json").stdout)["healthy"], "h1's faults showed on h2")
        tested = {r.code for r in rows}
        self.assertEqual(kinds_in_source() - tested - COVERED_ELSEWHERE, set(), "kinds no test injects")
        self.assertEqual(tested | COVERED_ELSEWHERE, kinds_in_source(), "kinds the source no longer has")
        print(f"\n  diag: {len(tested)} kinds in {len(rows)} rows injected, reported and repaired "
              f"(+{len(COVERED_ELSEWHERE)} in test_overlayctl and test_mtu) in {time.monotonic() - started:.1f} s")

    def test_2_repair_never_overwrites_a_record_that_changed_after_the_snapshot(self):
        """diag --fix repairs from its snapshot with compare-and-set: a record another writer changed between
        the snapshot and the repair is left as that writer made it, and the repair says so."""
        kv, h1 = self.kv, self.h1
        member_key = f"{PREFIX}/networks/fixnet/members/h1"
        saved = kv.kv_get(member_key)
        # The record as the plugin writes it, with the MTU fields diag's repair would not write.
        mtu = json.loads(self.t.run(self.n1, "ip", "-j", "link", "show", "eth0").stdout)[0]["mtu"]
        good = json.dumps(dict(json.loads(saved), mtu=mtu, underlayMtu=mtu + 50))
        kv.kv_put(member_key, json.dumps(dict(json.loads(good), vtep="198.51.100.99")))
        pause = os.path.join(self.t.tmpdir, "diag-pause")
        env = dict(self.c.env(h1), OVL_TEST_PAUSE_AT="diag.before-repair", OVL_TEST_PAUSE_FILE=pause)
        out = os.path.join(self.t.tmpdir, "diag-race.json")
        with open(out, "w") as f:
            p = self.t.popen(h1, find_binary("overlayctl"), "diag", "--json", "--fix", env=env, stdout=f)
        try:
            wait_for(lambda: os.path.exists(pause), 20, "overlayctl diag --fix to reach its repairs")
            kv.kv_put(member_key, good)  # the host's own ADD or watcher, meanwhile
            os.unlink(pause)
            self.assertEqual(p.wait(timeout=scaled(30)), 0)
            self.assertEqual(json.loads(kv.kv_get(member_key)), json.loads(good), "diag overwrote the newer record")
        finally:
            if p.poll() is None:
                p.kill()
            kv.kv_put(member_key, saved)
        with open(out) as f:
            rep = json.load(f)
        outcomes = [f["outcome"] for f in rep["findings"] if f["kind"] == "member-vtep"]
        self.assertEqual(len(outcomes), 1, rep)
        self.assertIn("changed since diag read it", outcomes[0])
        self.assertTrue(rep["healthy"], rep)


if __name__ == "__main__":
    unittest.main()
