"""End-to-end: containerd 1.6 `ctr run --cni` drives overlay + gwbridge on two simulated hosts.

Each host runs a private containerd (own root, state and socket; CRI disabled) inside its netns. ctr loads
the first conflist of /etc/cni/net.d and plugins from /opt/cni/bin; both are bind-mounted from the test's
temporary directory inside the private mount namespace of `ip netns exec`, as is libcni's result cache
/var/lib/cni. The image is a one-layer OCI archive of a busybox root filesystem written with Python's
standard library. What ctr sends: CNI_CONTAINERID=<namespace>-<id>, CNI_NETNS=/proc/<pid>/ns/net on ADD,
an empty CNI_NETNS on DEL, empty CNI_ARGS, no runtimeConfig.

CriE2E drives containerd's CRI plugin the way kubelet does (RunPodSandbox, PodSandboxStatus,
StopPodSandbox, RemovePodSandbox over gRPC with hand-encoded protobuf; needs python3-grpcio, i.e. Debian's
/usr/bin/python3). CRI sends CNI_ARGS with the K8S_POD_* keys, runtimeConfig.portMappings with CapitalCase
keys, and DEL twice: on stop (with netns and prevResult) and on remove (empty netns).
"""

import json
import os
import re
import subprocess
import time
import unittest
import uuid

import rtlib
from ovltest.timing import scaled
from rtlib import Containerd, RtCluster, gwbridge_plugin, overlay_plugin

IMAGE = "docker.io/library/busybox:rt"


class ContainerdE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rtlib.require_binaries(*rtlib.OUR_PLUGINS)
        rtlib.require_tools("containerd", "ctr", "runc", rtlib.BUSYBOX)
        cls.c = RtCluster(nhosts=2)
        cls.ctd = {}
        try:
            tmp = cls.c.tmp
            cls.spylog = os.path.join(tmp, "spy")
            cls.bin = rtlib.spy_bin_dir(os.path.join(tmp, "cni-bin"), cls.spylog)
            rootfs = rtlib.busybox_rootfs(os.path.join(tmp, "rootfs"))
            image = rtlib.oci_image_tar(rootfs, os.path.join(tmp, "busybox.tar"), IMAGE)
            cls.c.start_watchers()
            for h in cls.c.hosts:
                conf = rtlib.conflist(os.path.join(tmp, f"over-{h.name}.conflist"), "over",
                                      [overlay_plugin("10.0.0.0/24"), gwbridge_plugin(cls.c.lease_dir(h))])
                ctd = Containerd(cls.c.t, h, os.path.join(tmp, f"ctd-{h.name}"), env=cls.c.env(h))
                cls.ctd[h.name] = ctd
                ctd.ctr("images", "import", "--snapshotter", "native", image)
                ctd.set_cni(conf, cls.bin)
        except BaseException:
            cls._teardown()
            raise

    @classmethod
    def _teardown(cls):
        for ctd in cls.ctd.values():
            ctd.stop()
        cls.c.cleanup()

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("OVL_SHOW_CALLS"):
            print(rtlib.describe_calls(rtlib.spy_calls(cls.spylog)))
        cls._teardown()

    def setUp(self):
        self.mark = len(rtlib.spy_calls(self.spylog))
        self.started = time.monotonic()

    def tearDown(self):
        print(f"\n{self.id().split('.')[-1]}: {time.monotonic() - self.started:.1f} s")

    def calls(self, plugin=None, command=None):
        return [x for x in rtlib.spy_calls(self.spylog)[self.mark:]
                if (plugin is None or x["plugin"] == plugin) and (command is None or x["env"]["CNI_COMMAND"] == command)]

    def run_argv(self, host, cid, *cmd):
        return self.ctd[host.name].ctr_cni_argv("run", "--rm", "--cni", "--snapshotter", "native", IMAGE, cid, *cmd)

    def assert_clean(self):
        for h in self.c.hosts:
            self.assertEqual(self.c.attachment_links(h), [], h.name)
            self.assertEqual(self.c.file_leases(h), [], h.name)
            results = os.path.join(self.ctd[h.name].cachedir, "results")
            self.assertEqual(os.listdir(results) if os.path.isdir(results) else [], [], h.name)
        self.assertEqual(self.c.consul_leftovers(), [])

    # ---------------------------------------------------------------------------------------------
    def test_1_ctr_run_attach_and_teardown(self):
        h1 = self.c.hosts[0]
        p = rtlib.run(*self.run_argv(h1, "c1", "/bin/busybox", "ip", "addr"), env=self.ctd["h1"].env)
        out = p.stdout
        self.assertRegex(out, r"eth0@\S+ .*mtu 1350")
        self.assertRegex(out, r"inet 10\.0\.0\.\d+/24 .* eth0")
        self.assertRegex(out, r"inet 172\.18\.\d+\.\d+/16 .* gw-eth0")
        add = self.calls("overlay", "ADD")[0]["env"]
        self.assertEqual(add["CNI_CONTAINERID"], "rt-c1")
        self.assertRegex(add["CNI_NETNS"], r"^/proc/\d+/ns/net$")
        self.assertEqual(add["CNI_ARGS"], "")
        self.assertNotIn("runtimeConfig", self.calls("gwbridge", "ADD")[0]["stdin"])
        dels = [x for x in self.calls(command="DEL") if x["plugin"] != "overlay-ipam"]
        self.assertEqual([x["plugin"] for x in dels], ["gwbridge", "overlay"])
        self.assertTrue(all(x["env"]["CNI_NETNS"] == "" for x in dels), rtlib.describe_calls(dels))
        self.assertTrue(all(x["rc"] == 0 for x in self.calls()), rtlib.describe_calls(self.calls()))
        self.assert_clean()

    def test_2_cross_host_ping(self):
        h1, h2 = self.c.hosts
        env = self.ctd["h1"].env
        server = subprocess.Popen(self.run_argv(h1, "srv", "/bin/busybox", "sleep", "20"), env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline, ip = time.monotonic() + scaled(30), None
            while time.monotonic() < deadline and not ip:
                for x in self.calls("overlay", "ADD"):
                    if x["env"]["CNI_CONTAINERID"] == "rt-srv" and x["stdout"]:
                        ip = json.loads(x["stdout"])["ips"][0]["address"].split("/")[0]
                time.sleep(0.2)
            self.assertIsNotNone(ip, "the server container was not attached")
            p = rtlib.run(*self.run_argv(h2, "cli", "/bin/busybox", "ping", "-c", "3", "-W", "2", ip),
                          env=self.ctd["h2"].env, check=False)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("3 packets received", p.stdout)
        finally:
            self.ctd["h1"].ctr("tasks", "kill", "-s", "SIGKILL", "srv", check=False)
            out, err = server.communicate(timeout=60)
        # ctr run --rm ran DEL after the task was killed.
        self.assertIn("rt-srv", [x["env"]["CNI_CONTAINERID"] for x in self.calls("overlay", "DEL")])
        self.assert_clean()

    def test_9_everything_gone(self):
        self.assert_clean()


class CriE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rtlib.require_binaries(*rtlib.OUR_PLUGINS)
        rtlib.require_tools("containerd", "ctr", "runc", rtlib.BUSYBOX)
        try:
            import grpc  # noqa: F401
        except ImportError:
            raise unittest.SkipTest("python3-grpcio is missing for this interpreter (use /usr/bin/python3)")
        cls.c = RtCluster(nhosts=1)
        cls.ctd = None
        try:
            tmp = cls.c.tmp
            cls.spylog = os.path.join(tmp, "spy")
            cls.bin = rtlib.spy_bin_dir(os.path.join(tmp, "cni-bin"), cls.spylog)
            rootfs = rtlib.busybox_rootfs(os.path.join(tmp, "rootfs"))
            pause = rtlib.oci_image_tar(rootfs, os.path.join(tmp, "pause.tar"), "docker.io/library/pause:rt",
                                        cmd=("/bin/sleep", "2147483647"))
            cls.c.start_watchers()
            h1 = cls.c.hosts[0]
            conf = rtlib.conflist(os.path.join(tmp, "over.conflist"), "over",
                                  [overlay_plugin("10.0.0.0/24"), gwbridge_plugin(cls.c.lease_dir(h1))])
            work = os.path.join(tmp, "ctd-cri")
            os.makedirs(os.path.join(work, "net.d"))
            cls.ctd = Containerd(cls.c.t, h1, work, env=cls.c.env(h1),
                                 cri_config=rtlib.cri_config(cls.bin, os.path.join(work, "net.d"),
                                                             "docker.io/library/pause:rt"))
            cls.ctd.ctr("images", "import", "--snapshotter", "native", pause, ns="k8s.io")
            cls.ctd.set_cni(conf, cls.bin)
            cls.cri = rtlib.CriClient(cls.ctd.sock)
        except BaseException:
            cls._teardown()
            raise

    @classmethod
    def _teardown(cls):
        if cls.ctd:
            cls.ctd.stop()
        cls.c.cleanup()

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("OVL_SHOW_CALLS"):
            print(rtlib.describe_calls(rtlib.spy_calls(cls.spylog)))
        cls.cri.close()
        cls._teardown()

    def calls(self, plugin=None, command=None, since=0):
        return [x for x in rtlib.spy_calls(self.spylog)[since:]
                if (plugin is None or x["plugin"] == plugin) and (command is None or x["env"]["CNI_COMMAND"] == command)]

    def test_pod_lifecycle(self):
        c, h1 = self.c, self.c.hosts[0]
        uid = str(uuid.uuid4())
        t0 = time.monotonic()
        pod = self.cri.run_pod("web", "default", uid, port_mappings=[{"containerPort": 80, "hostPort": 8090}])
        print(f"\nRunPodSandbox: {time.monotonic() - t0:.1f} s")
        removed = False
        try:
            ip = self.cri.pod_ip(pod)
            self.assertRegex(ip, r"^10\.0\.0\.\d+$")
            add = self.calls("overlay", "ADD")[0]
            args = dict(kv.split("=", 1) for kv in add["env"]["CNI_ARGS"].split(";"))
            self.assertEqual(args["K8S_POD_NAMESPACE"], "default")
            self.assertEqual(args["K8S_POD_NAME"], "web")
            self.assertEqual(args["K8S_POD_UID"], uid)
            self.assertEqual(args["K8S_POD_INFRA_CONTAINER_ID"], pod)
            self.assertEqual(add["env"]["CNI_CONTAINERID"], pod)
            gw = self.calls("gwbridge", "ADD")[0]
            self.assertEqual(gw["stdin"]["runtimeConfig"]["portMappings"],
                             [{"HostPort": 8090, "ContainerPort": 80, "Protocol": "tcp", "HostIP": ""}])
            netns = add["env"]["CNI_NETNS"]
            # CRI pinned the pod's namespace in its private mount namespace, not in the machine's /run/netns.
            pinned = os.path.realpath(os.path.dirname(netns))
            self.assertEqual(pinned, "/run/netns", netns)
            self.assertFalse(os.path.exists(os.path.join(pinned, os.path.basename(netns))), netns)
            self.assertTrue(os.path.exists(self.ctd.mounts.path(os.path.join(pinned, os.path.basename(netns)))))
            out = rtlib.run(*self.ctd.mounts.enter_netns_argv(netns, "ip", "-4", "-o", "addr")).stdout
            self.assertIn(f"inet {ip}/24", out)
            self.assertRegex(out, r"gw-eth0\s+inet 172\.18\.")
            self.assertIn("8090", c.nft_rules(h1))

            mark = len(rtlib.spy_calls(self.spylog))
            self.cri.stop_pod(pod)
            stop_dels = [x for x in self.calls(command="DEL", since=mark) if x["plugin"] != "overlay-ipam"]
            self.assertEqual([x["plugin"] for x in stop_dels], ["gwbridge", "overlay"])
            self.assertTrue(all(x["rc"] == 0 for x in stop_dels), rtlib.describe_calls(stop_dels))
            self.assertEqual(c.attachment_links(h1), [])
            self.assertEqual(c.file_leases(h1), [])
            self.assertEqual(c.consul_leftovers(), [])
            self.assertNotIn("8090", c.nft_rules(h1))

            mark = len(rtlib.spy_calls(self.spylog))
            self.cri.remove_pod(pod)
            removed = True
            rm_dels = [x for x in self.calls(command="DEL", since=mark) if x["plugin"] != "overlay-ipam"]
            print(rtlib.describe_calls(stop_dels + rm_dels))
            # DEL twice (README): on stop with the netns and the cached result, on remove without either.
            self.assertEqual([(x["plugin"], x["env"]["CNI_NETNS"] == netns, "prevResult" in x["stdin"])
                              for x in stop_dels], [("gwbridge", True, True), ("overlay", True, True)],
                             rtlib.describe_calls(stop_dels))
            self.assertEqual([(x["plugin"], x["env"]["CNI_NETNS"], "prevResult" in x["stdin"]) for x in rm_dels],
                             [("gwbridge", "", False), ("overlay", "", False)], rtlib.describe_calls(rm_dels))
            self.assertTrue(all(x["rc"] == 0 for x in rm_dels), rtlib.describe_calls(rm_dels))
            self.assertEqual(c.consul_leftovers(), [])
        finally:
            if not removed:
                for fn in (self.cri.stop_pod, self.cri.remove_pod):
                    try:
                        fn(pod)
                    except Exception as e:  # keep cleaning
                        print("cleanup:", e)


if __name__ == "__main__":
    unittest.main()
