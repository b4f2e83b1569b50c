"""End-to-end: buildah 1.28 (`buildah run --network NAME`) drives overlay on a simulated two-host cluster.

h1 runs buildah inside its netns through nsenter (plus a private mount namespace whose /var/lib/cni is a
directory of the test), with private storage.conf (vfs) and containers.conf (runc, cgroupfs, CNI backend,
cni_plugin_dirs = logging wrappers around our binaries, network_config_dir = an overlay-only conflist
with cniVersion 1.0.0 and overlay-ipam on Consul). The working container is `buildah from scratch` plus the
busybox root filesystem. A peer container on h2 is attached by running the plugin directly (run_plugin).

What buildah sends (recorded by the wrappers): a VERSION probe (CNI_NETNS=dummy), then ADD and, when the
command exits, DEL with CNI_NETNS=/proc/<pid>/fd/<n> (a file-descriptor path, not /run/netns/...),
CNI_CONTAINERID=buildah-buildah<digits>, CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=..., no runtimeConfig;
DEL carries prevResult.

buildah must never set up networking in the root namespace (it would add cni-podman0, NAT rules and set
ip_forward=1): the tests assert the root namespace's links and ip_forward are unchanged.
"""

import os
import re
import time
import unittest

import rtlib
from ovltest.netns import root_snapshot
from ovltest.plugins import run_plugin
from rtlib import Buildah, RtCluster, overlay_plugin

NET = "bnet"
SUBNET = "10.0.5.0/24"
FD_NETNS = re.compile(r"/proc/\d+/fd/\d+")


class BuildahE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rtlib.require_binaries("overlay", "overlay-ipam")
        rtlib.require_tools("buildah", "runc", "nsenter", "unshare", rtlib.BUSYBOX)
        cls.root_before = root_snapshot()
        cls.c = RtCluster(nhosts=2)
        cls.buildah = None
        try:
            tmp = cls.c.tmp
            cls.spylog = os.path.join(tmp, "spy")
            cls.bin = rtlib.spy_bin_dir(os.path.join(tmp, "cni-bin"), cls.spylog)
            cls.rootfs = rtlib.busybox_rootfs(os.path.join(tmp, "rootfs"))
            cls.c.start_watchers()
            cls.h1, cls.h2 = cls.c.hosts
            cls.buildah = Buildah(cls.c.t, cls.h1, os.path.join(tmp, "buildah-h1"), cls.bin, cls.c.node_cfg["h1"])
            cls.buildah.add_network(NET, [overlay_plugin(SUBNET)])
            cls.ctr = cls.buildah.from_rootfs(cls.rootfs, "bctr")
        except BaseException:
            cls._teardown()
            raise

    @classmethod
    def _teardown(cls):
        if cls.buildah:
            cls.buildah.cleanup()
        cls.c.cleanup()

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("OVL_SHOW_CALLS"):
            print(rtlib.describe_calls(rtlib.spy_calls(cls.spylog)))
        cls._teardown()
        after = root_snapshot()
        assert after["links"] == cls.root_before["links"], "root namespace links changed"
        assert after["sysctls"] == cls.root_before["sysctls"], "root namespace ip_forward changed"

    def setUp(self):
        self.mark = len(rtlib.spy_calls(self.spylog))
        self.started = time.monotonic()

    def tearDown(self):
        print(f"\n{self.id().split('.')[-1]}: {time.monotonic() - self.started:.1f} s")

    def calls(self, plugin=None, command=None):
        return [x for x in rtlib.spy_calls(self.spylog)[self.mark:]
                if (plugin is None or x["plugin"] == plugin) and (command is None or x["env"]["CNI_COMMAND"] == command)]

    def transcript(self):
        return rtlib.describe_calls(self.calls())

    def assert_clean(self):
        for h in self.c.hosts:
            self.assertEqual(self.c.attachment_links(h), [], h.name)
            self.assertEqual(self.c.file_leases(h), [], h.name)
        self.assertEqual(self.c.consul_leftovers(), [])
        results = os.path.join(self.buildah.cachedir, "results")  # buildah's private /var/lib/cni
        self.assertEqual(os.listdir(results) if os.path.isdir(results) else [], [], "libcni result cache")

    def assert_root_untouched(self):
        now = root_snapshot()
        self.assertEqual(now["links"], self.root_before["links"], "root namespace links changed")
        self.assertEqual(now["sysctls"], self.root_before["sysctls"], "root namespace ip_forward changed")
        self.assertNotIn("cni-podman0", [l["ifname"] for l in self.c.links(self.h1)])

    def buildah_run(self, *cmd, caps=()):
        extra = [a for cap in caps for a in ("--cap-add", cap)]
        p = self.buildah.run("run", "--network", NET, *extra, self.ctr, *cmd, check=False, timeout=60)
        self.assertEqual(p.returncode, 0, f"{p.stdout}\n{p.stderr}\n{self.transcript()}")
        return p.stdout

    def assert_buildah_sent(self, n_runs=1):
        adds, dels = self.calls("overlay", "ADD"), self.calls("overlay", "DEL")
        self.assertEqual((len(adds), len(dels)), (n_runs, n_runs), self.transcript())
        for add, dl in zip(adds, dels):
            for call in (add, dl):
                env = call["env"]
                self.assertRegex(env["CNI_NETNS"], rf"^{FD_NETNS.pattern}$", self.transcript())
                self.assertEqual(env["CNI_IFNAME"], "eth0")
                self.assertTrue(env["CNI_CONTAINERID"].startswith("buildah-"), env)
                self.assertIn("K8S_POD_NAME=", env.get("CNI_ARGS", ""))
                self.assertNotIn("runtimeConfig", call["stdin"])
                self.assertEqual(call["stdin"]["cniVersion"], "1.0.0")
                self.assertEqual(call["rc"], 0, self.transcript())
            self.assertEqual(dl["env"]["CNI_CONTAINERID"], add["env"]["CNI_CONTAINERID"])
            self.assertEqual(dl["env"]["CNI_NETNS"], add["env"]["CNI_NETNS"])
            self.assertIn("prevResult", dl["stdin"])
        return adds

    # ---------------------------------------------------------------------------------------------
    def test_1_run_sees_overlay_address(self):
        out = self.buildah_run("/bin/busybox", "ip", "-o", "addr")
        addrs = re.findall(r"^\d+: eth0\s+inet (\S+)", out, re.M)
        self.assertEqual(len(addrs), 1, out)
        self.assertTrue(addrs[0].startswith("10.0.5.") and addrs[0].endswith("/24"), out)
        adds = self.assert_buildah_sent()
        self.assertIn(f'"{addrs[0]}"', adds[0]["stdout"] or "", "the container saw the address ADD returned")
        self.assertTrue(self.calls("overlay", "VERSION"), "buildah probes VERSION first")
        self.assert_clean()
        self.assert_root_untouched()

    def test_2_cross_host_ping(self):
        conf = {"cniVersion": "1.0.0", "name": NET, **overlay_plugin(SUBNET)}
        conf.pop("capabilities")
        peer = self.c.t.add_container(self.h2, "peer")
        rc, res, out, err = run_plugin(self.c.t, self.h2, "overlay", "ADD", conf, "peer1", peer, "eth0",
                                       extra_env=self.c.env(self.h2))
        self.assertEqual(rc, 0, out + err)
        try:
            peer_ip = res["ips"][0]["address"].split("/")[0]
            out = self.buildah_run("/bin/busybox", "ping", "-c", "3", "-W", "2", peer_ip, caps=("CAP_NET_RAW",))
            self.assertIn("3 packets received", out)
            self.assert_buildah_sent()
        finally:
            rc, _, out, err = run_plugin(self.c.t, self.h2, "overlay", "DEL", conf, "peer1", peer, "eth0",
                                         extra_env=self.c.env(self.h2))
            self.c.t.remove_container(peer)
        self.assertEqual(rc, 0, out + err)
        self.assert_clean()
        self.assert_root_untouched()

    def test_9_everything_gone(self):
        self.assert_clean()
        self.assert_root_untouched()


if __name__ == "__main__":
    unittest.main()
