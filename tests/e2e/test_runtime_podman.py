"""End-to-end: podman 4.3 with the CNI backend drives overlay (+ gwbridge) on two simulated hosts.

Each host runs its own podman (private containers.conf/storage.conf under the test's temporary directory,
vfs storage, runc, cgroupfs) inside its netns through nsenter, with a busybox root filesystem (--rootfs),
a real Consul and `overlay watch`. The plugin directory is made of logging wrappers, so the tests also
assert what podman actually sent (CNI_ARGS IP=/MAC=, runtimeConfig.portMappings with lowercase keys).

Networks: over = overlay + gwbridge (10.0.0.0/24, Docker's overlay + docker_gwbridge), over2 and over3 =
overlay alone (10.0.1.0/24, 10.0.2.0/24).
"""

import json
import os
import re
import time
import unittest

import rtlib
from ovltest.timing import scaled
from rtlib import Podman, RtCluster, gwbridge_plugin, overlay_plugin


class PodmanE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rtlib.require_binaries(*rtlib.OUR_PLUGINS)
        rtlib.require_tools("podman", "runc", "nsenter", rtlib.BUSYBOX)
        cls.c = RtCluster(nhosts=2)
        cls.podmans = []
        try:
            tmp = cls.c.tmp
            cls.spylog = os.path.join(tmp, "spy")
            cls.bin = rtlib.spy_bin_dir(os.path.join(tmp, "cni-bin"), cls.spylog)
            cls.rootfs = rtlib.busybox_rootfs(os.path.join(tmp, "rootfs"))
            cls.c.start_watchers()
            cls.c.start_resolvers()
            cls.pm = {}
            for h in cls.c.hosts:
                pm = Podman(cls.c.t, h, os.path.join(tmp, f"podman-{h.name}"), cls.bin, cls.c.node_cfg[h.name])
                cls.podmans.append(pm)
                pm.add_network("over", [overlay_plugin("10.0.0.0/24"), gwbridge_plugin(cls.c.lease_dir(h))])
                pm.add_network("over2", [overlay_plugin("10.0.1.0/24")])
                pm.add_network("over3", [overlay_plugin("10.0.2.0/24")])
                cls.pm[h.name] = pm
        except BaseException:
            cls._teardown()
            raise

    @classmethod
    def _teardown(cls):
        for pm in cls.podmans:
            pm.cleanup()
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
        for pm in self.podmans:
            pm.run("rm", "-af", "-t", "0", check=False)
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

    @staticmethod
    def inet(ip_addr_out, ifname):
        """(addresses, mac) of ifname in `ip addr` output."""
        block = re.search(rf"^\d+: {ifname}[@:].*?(?=^\d+: |\Z)", ip_addr_out, re.M | re.S)
        if not block:
            return [], None
        mac = re.search(r"link/ether (\S+)", block.group(0))
        return re.findall(r"inet (\S+)", block.group(0)), mac.group(1) if mac else None

    def ctl(self, host, *args):
        p = self.c.t.run(host, os.path.join(rtlib.OVL_BIN_DIR, "overlayctl"), *args, env=self.c.env(host),
                         check=False)
        self.assertEqual(p.returncode, 0, f"overlayctl {' '.join(args)} on {host.name}: {p.stdout}{p.stderr}")
        return p.stdout

    # ---------------------------------------------------------------------------------------------
    def test_0_readme_install_with_overlayctl_conflists(self):
        """README 'Installing on a real node' step 3 followed literally: one host defines two networks
        (Docker's default pool), every host installs the conflist overlayctl prints, and podman uses it as it
        is: -p, --network-alias and a second network, across hosts."""
        h1, h2 = self.c.hosts
        printed = {net: json.loads(self.ctl(h1, "network", "create", net)) for net in ("docs1", "docs2")}
        defs = {n["name"]: n["subnets"] for n in json.loads(self.ctl(h2, "network", "ls", "--json"))}
        self.assertEqual((defs["docs1"], defs["docs2"]), (["10.0.0.0/24"], ["10.0.1.0/24"]))
        for h in self.c.hosts:
            for net in printed:
                self.ctl(h, "network", "conflist", net, "--install", self.pm[h.name].netdir)
                with open(os.path.join(self.pm[h.name].netdir, f"{net}.conflist")) as f:
                    self.assertEqual(json.load(f), printed[net])
        try:
            self.pm["h1"].run("run", "-d", "--name", "docweb", "--network", "docs1", "--network-alias", "www",
                              "-p", "8081:80", "--rootfs", self.rootfs, "/bin/busybox", "httpd", "-f", "-p", "80",
                              "-h", "/etc")
            # -p through the printed conflist's gwbridge, from another host.
            deadline, code = time.monotonic() + scaled(10), ""
            while time.monotonic() < deadline and code != "200":
                code = self.c.t.run(h2, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "2",
                                    f"http://{h1.ip}:8081/passwd", check=False).stdout.strip()
            self.assertEqual(code, "200", self.c.nft_rules(h1) + self.transcript())
            # A container on h2 on both networks reaches the alias over docs1, by name.
            p = self.pm["h2"].run("run", "--rm", "--name", "docclient", "--network", "docs2", "--network", "docs1",
                                  "--rootfs", self.rootfs, "/bin/busybox", "sh", "-c",
                                  "ip addr; wget -q -O - http://www/passwd", check=False)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.transcript())
            self.assertIn("root:", p.stdout)
            addrs = self.inet(p.stdout, "eth0")[0] + self.inet(p.stdout, "eth1")[0]
            self.assertEqual(sorted(a.rsplit(".", 1)[0] for a in addrs), ["10.0.0", "10.0.1"], p.stdout)
            # overlayctl names the attachment by its container name and aliases (podman adds the short ID).
            att = json.loads(self.ctl(h1, "network", "inspect", "docs1"))[0]["attachments"]
            self.assertEqual([a["names"][:2] for a in att], [["docweb", "www"]])
        finally:
            self.pm["h1"].run("rm", "-f", "-t", "0", "docweb", check=False)
            for h in self.c.hosts:
                for net in printed:
                    os.remove(os.path.join(self.pm[h.name].netdir, f"{net}.conflist"))
        for net in printed:
            self.ctl(h1, "network", "rm", net)
        self.assert_clean()

    def test_1_ip_mac_ports_on_overlay_with_gwbridge(self):
        """The documented command: --ip, --mac-address and -p on overlay + gwbridge."""
        pm = self.pm["h1"]
        p = pm.run("run", "--rm", "--network", "over", "--ip", "10.0.0.50", "--mac-address", "02:00:00:00:00:50",
                   "-p", "8080:80", "--rootfs", self.rootfs, "/bin/busybox", "ip", "addr", check=False)
        self.assertEqual(p.returncode, 0, f"{p.stderr}\n{self.transcript()}")
        addrs, mac = self.inet(p.stdout, "eth0")
        self.assertEqual((addrs, mac), (["10.0.0.50/24"], "02:00:00:00:00:50"), p.stdout)
        gw_addrs, gw_mac = self.inet(p.stdout, "gw-eth0")
        self.assertTrue(gw_addrs and gw_addrs[0].startswith("172.18."), p.stdout)
        self.assertNotEqual(gw_mac, "02:00:00:00:00:50")
        ov = self.calls("overlay", "ADD")[0]
        self.assertIn("IP=10.0.0.50", ov["env"]["CNI_ARGS"].split(";"))
        self.assertIn("MAC=02:00:00:00:00:50", ov["env"]["CNI_ARGS"].split(";"))
        gw = self.calls("gwbridge", "ADD")[0]
        self.assertEqual(gw["stdin"]["runtimeConfig"]["portMappings"],
                         [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}])
        # --rm: DEL ran for both plugins in reverse order, with prevResult.
        dels = [x["plugin"] for x in self.calls(command="DEL") if x["plugin"] != "overlay-ipam"]
        self.assertEqual(dels, ["gwbridge", "overlay"])
        self.assert_clean()

    def test_2_ip_and_mac_on_overlay_alone(self):
        pm = self.pm["h1"]
        p = pm.run("run", "--rm", "--network", "over2", "--ip", "10.0.1.50", "--mac-address", "02:00:00:00:01:50",
                   "--rootfs", self.rootfs, "/bin/busybox", "ip", "addr", check=False)
        self.assertEqual(p.returncode, 0, f"{p.stderr}\n{self.transcript()}")
        self.assertEqual(self.inet(p.stdout, "eth0"), (["10.0.1.50/24"], "02:00:00:00:01:50"), p.stdout)
        link = re.search(r"eth0@\S+ .*mtu (\d+)", p.stdout)
        self.assertEqual(link.group(1), "1350")  # underlay 1400 - 50
        ov = self.calls("overlay", "ADD")[0]
        self.assertEqual(len(ov["env"]["CNI_CONTAINERID"]), 64)
        self.assertTrue(ov["env"]["CNI_NETNS"].startswith("/run/netns/netns-"), ov["env"])
        self.assertIn("K8S_POD_NAME=", ov["env"]["CNI_ARGS"])
        self.assertTrue(self.calls("overlay", "VERSION"), "podman probes VERSION first")
        self.assertEqual(len(self.calls("overlay", "DEL")), 1)
        self.assert_clean()

    def test_3_two_networks_and_cross_host_ping(self):
        h1pm, h2pm = self.pm["h1"], self.pm["h2"]
        h1pm.run("run", "-d", "--name", "web", "--network", "over2", "--network", "over3",
                 "--rootfs", self.rootfs, "/bin/busybox", "sleep", "300")
        out = h1pm.run("exec", "web", "/bin/busybox", "ip", "addr").stdout
        a0, _ = self.inet(out, "eth0")
        a1, _ = self.inet(out, "eth1")
        nets = {a0[0].rsplit(".", 1)[0], a1[0].rsplit(".", 1)[0]}
        self.assertEqual(nets, {"10.0.1", "10.0.2"}, out)
        ifnames = sorted(x["env"]["CNI_IFNAME"] for x in self.calls("overlay", "ADD"))
        self.assertEqual(ifnames, ["eth0", "eth1"])
        ip_over2 = (a0 if a0[0].startswith("10.0.1.") else a1)[0].split("/")[0]
        # A container on h2 reaches the h1 container over the overlay (two podmans, one Consul).
        p = h2pm.run("run", "--rm", "--network", "over2", "--cap-add", "NET_RAW,NET_ADMIN", "--rootfs", self.rootfs, "/bin/busybox",
                     "ping", "-c", "3", "-W", "2", ip_over2, check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        h1pm.run("rm", "-f", "-t", "0", "web")
        self.assertEqual(len(self.calls("overlay", "DEL")), 3, self.transcript())  # 2 (web) + 1 (--rm run)
        self.assert_clean()

    def test_4_port_mapping_through_gwbridge(self):
        h1 = self.c.hosts[0]
        pm = self.pm["h1"]
        pm.run("run", "-d", "--name", "httpd", "--network", "over", "-p", "8080:80", "--rootfs", self.rootfs,
               "/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
        deadline, code = time.monotonic() + scaled(10), ""
        while time.monotonic() < deadline and code != "200":
            code = self.c.t.run(self.c.hosts[1], "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "2",
                                f"http://{h1.ip}:8080/passwd", check=False).stdout.strip()
        self.assertEqual(code, "200", self.c.nft_rules(h1) + self.transcript())
        pm.run("rm", "-f", "-t", "0", "httpd")
        self.assertNotIn("8080", self.c.nft_rules(h1))
        self.assert_clean()

    def test_5_names_across_hosts_through_resolv_conf(self):
        """podman writes the result's nameserver (overlay-resolver) into resolv.conf; ping by name and alias."""
        h1pm, h2pm = self.pm["h1"], self.pm["h2"]
        h2pm.run("run", "-d", "--name", "dbsrv", "--network", "over2", "--network-alias", "database",
                 "--rootfs", self.rootfs, "/bin/busybox", "sleep", "300")
        p = h1pm.run("run", "--rm", "--name", "client", "--network", "over2", "--cap-add", "NET_RAW",
                     "--rootfs", self.rootfs, "/bin/busybox", "sh", "-c",
                     "cat /etc/resolv.conf; ping -c 1 -W 2 dbsrv && ping -c 1 -W 2 database", check=False)
        self.assertIn("nameserver 127.0.0.11", p.stdout, p.stdout + p.stderr)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.transcript())
        add = [x for x in self.calls("overlay", "ADD") if "K8S_POD_NAME=dbsrv" in x["env"]["CNI_ARGS"]][0]
        self.assertIn("database", add["stdin"]["runtimeConfig"]["aliases"]["over2"])
        h2pm.run("rm", "-f", "-t", "0", "dbsrv")
        self.assert_clean()

    def test_9_everything_gone(self):
        self.assert_clean()


if __name__ == "__main__":
    unittest.main()
