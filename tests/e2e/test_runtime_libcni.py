"""End-to-end through libcni 1.1.2 (the library inside containerd, CRI-O and podman): overlay + gwbridge.

tests/tools/cnirunner is a small Go program over libcni (AddNetworkList/CheckNetworkList/DelNetworkList
with a CacheDir), so ADD results are cached and fed back as prevResult on CHECK and DEL exactly as real
runtimes do. Two simulated hosts with a real Consul and `overlay watch` on each; the plugins directory is
made of logging wrappers (rtlib.spy_bin_dir) so the tests can assert what libcni actually sent.
"""

import json
import os
import subprocess
import time
import unittest

import rtlib
from ovltest.cleanup import run_all
from ovltest.timing import scaled
from rtlib import RtCluster, conflist, gwbridge_plugin, overlay_plugin

SUBNET = "10.0.0.0/24"
PORTS = [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]


class LibcniE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rtlib.require_binaries(*rtlib.OUR_PLUGINS)
        cls.c = RtCluster(nhosts=2)
        try:
            tmp = cls.c.tmp
            cls.runner = rtlib.build_cnirunner(os.path.join(tmp, "go"))
            cls.spylog = os.path.join(tmp, "spy")
            cls.bin = rtlib.spy_bin_dir(os.path.join(tmp, "cni-bin"), cls.spylog)
            cls.c.start_watchers()
            # One conflist per host: gwbridge's leases go to the host's own directory.
            cls.chains = {h.name: conflist(os.path.join(tmp, f"over-{h.name}.conflist"), "over",
                                           [overlay_plugin(SUBNET), gwbridge_plugin(cls.c.lease_dir(h))])
                          for h in cls.c.hosts}
            h1 = cls.c.hosts[0]
            cls.refchain = conflist(os.path.join(tmp, "overref.conflist"), "overref", [
                overlay_plugin("10.0.5.0/24"), gwbridge_plugin(cls.c.lease_dir(h1)),
                {"type": "tuning", "sysctl": {"net.ipv4.conf.eth0.accept_redirects": "0"}},
                {"type": "bandwidth", "capabilities": {"bandwidth": True}},
                {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}])
            with open(cls.refchain) as f:
                nopm = json.load(f)
            nopm["plugins"] = [p for p in nopm["plugins"] if p["type"] != "portmap"]
            cls.refchain_noportmap = os.path.join(tmp, "overref-noportmap.conflist")
            with open(cls.refchain_noportmap, "w") as f:
                json.dump(nopm, f)  # same network name: CHECK finds the same cached result
        except BaseException:
            cls.c.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("OVL_SHOW_CALLS"):
            print(rtlib.describe_calls(rtlib.spy_calls(cls.spylog)))
        cls.c.cleanup()

    def setUp(self):
        self.cleanups = []
        self.mark = len(rtlib.spy_calls(self.spylog))

    def tearDown(self):
        self.assertEqual(run_all(self.cleanups), [], "DEL in the test's cleanup failed")

    # --- helpers ---
    def cni(self, host, verb, conf, cid, netns, ifname="eth0", args=None, cap=None, check=True):
        conf = conf or self.chains[host.name]  # None: the host's overlay + gwbridge chain
        argv = [self.runner, verb, conf, cid, netns, ifname]
        if args is not None:
            argv += ["--args", args]
        if cap is not None:
            argv += ["--cap", json.dumps(cap)]
        env = dict(self.c.env(host), CNI_PATH=self.bin, CNI_CACHE_DIR=os.path.join(self.c.tmp, f"cache-{host.name}"))
        p = self.c.t.run(host, *argv, env=env, check=False, timeout=100)
        if check and p.returncode != 0:
            raise AssertionError(f"cnirunner {verb} {cid} on {host.name}: rc={p.returncode}\n{p.stdout}\n{p.stderr}\n"
                                 + rtlib.describe_calls(rtlib.spy_calls(self.spylog)[self.mark:]))
        return p

    def add(self, host, conf, cid, args=None, cap=None):
        netns = self.c.t.add_container(host, cid)
        # Registered first: a runtime calls DEL after a failed ADD too (libcni itself does not).
        self.cleanups.append(lambda: self.cni(host, "del", conf, cid, netns, args=args, cap=cap, check=False))
        p = self.cni(host, "add", conf, cid, netns, args=args, cap=cap)
        return netns, json.loads(p.stdout)

    def calls(self, plugin=None):
        return [c for c in rtlib.spy_calls(self.spylog)[self.mark:] if plugin is None or c["plugin"] == plugin]

    def serve_http(self, netns, port=80):
        """A tiny HTTP server in the container (python from the host filesystem); stopped at cleanup."""
        p = self.c.t.popen(netns, "/usr/bin/python3", "-m", "http.server", str(port), "--bind", "0.0.0.0",
                           "--directory", self.c.tmp)
        deadline = time.monotonic() + scaled(10)
        while time.monotonic() < deadline:
            if self.c.t.run(netns, "/usr/bin/python3", "-c",
                            f"import socket; socket.create_connection(('127.0.0.1', {port}), 1)",
                            check=False).returncode == 0:
                return p
            time.sleep(0.1)
        raise AssertionError("http server did not start")

    # ---------------------------------------------------------------------------------------------
    def test_1_chain_add_check_del(self):
        c = self.c
        h1, h2 = c.hosts
        cap = {"portMappings": PORTS, "mac": "02:00:00:00:00:51", "ips": ["10.0.0.51/24"]}
        t0 = time.monotonic()
        n1, r1 = self.add(h1, None, "lib1", args="IgnoreUnknown=1;K8S_POD_NAME=web;K8S_POD_NAMESPACE=default",
                          cap=cap)
        add_s = time.monotonic() - t0
        print(f"\nlibcni ADD overlay+gwbridge: {add_s * 1000:.0f} ms")

        # What libcni sent: CNI_ARGS as given; runtimeConfig filtered by each plugin's capabilities.
        ov = [x for x in self.calls("overlay") if x["env"]["CNI_COMMAND"] == "ADD"][0]
        self.assertEqual(ov["env"]["CNI_ARGS"], "IgnoreUnknown=1;K8S_POD_NAME=web;K8S_POD_NAMESPACE=default")
        self.assertEqual(ov["stdin"]["runtimeConfig"], {"mac": "02:00:00:00:00:51", "ips": ["10.0.0.51/24"]})
        self.assertNotIn("prevResult", ov["stdin"])
        gw = [x for x in self.calls("gwbridge") if x["env"]["CNI_COMMAND"] == "ADD"][0]
        self.assertEqual(gw["stdin"]["runtimeConfig"], {"portMappings": PORTS})
        self.assertIn("prevResult", gw["stdin"])
        self.assertEqual(gw["env"]["CNI_IFNAME"], "eth0")

        # The result libcni returns (converted by libcni to 1.0.0): both plugins' interfaces and addresses.
        self.assertEqual(r1["cniVersion"], "1.0.0")
        names = [i["name"] for i in r1["interfaces"]]
        self.assertIn("eth0", names)
        self.assertIn("gw-eth0", names)
        in_sandbox = [i for i in r1["interfaces"] if i.get("sandbox")]
        self.assertEqual(sorted(i["name"] for i in in_sandbox), ["eth0", "gw-eth0"])
        self.assertTrue(all(i.get("mac") for i in r1["interfaces"]))
        addrs = {r1["interfaces"][ip["interface"]]["name"]: ip["address"] for ip in r1["ips"]}
        self.assertEqual(addrs["eth0"], "10.0.0.51/24")
        self.assertTrue(addrs["gw-eth0"].startswith("172.18."), addrs)

        # Kernel state inside the container.
        eth0 = c.link(n1, "eth0")
        self.assertEqual(eth0["address"], "02:00:00:00:00:51")
        self.assertEqual(eth0["mtu"], 1350)
        self.assertEqual(c.addrs(n1, "eth0"), ["10.0.0.51/24"])
        self.assertEqual(c.addrs(n1, "gw-eth0"), [addrs["gw-eth0"]])
        self.assertEqual(len(c.file_leases(h1)), 1, "gwbridge's lease is not in the host's file store")
        default = [r for r in c.routes(n1) if r["dst"] == "default"]
        self.assertEqual(len(default), 1, default)
        self.assertEqual(default[0]["dev"], "gw-eth0")

        # Second host, static IP through the ips capability; cross-host ping.
        n2, r2 = self.add(h2, None, "lib2", cap={"ips": ["10.0.0.52"]})
        self.assertEqual(c.addrs(n2, "eth0"), ["10.0.0.52/24"])
        self.assertIsNotNone(c.ping_until(n1, "10.0.0.52", 3.0), "no cross-host overlay ping")
        self.assertIsNotNone(c.ping_until(n2, "10.0.0.51", 3.0))

        # Port mapping from runtimeConfig: h2 reaches the container on h1 through h1's address.
        self.serve_http(n1, 80)
        p = c.t.run(h2, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "5",
                    f"http://{h1.ip}:8080/", check=False)
        self.assertEqual(p.stdout.strip(), "200", f"port mapping h1:8080 -> lib1:80 failed: {p.stderr}\n"
                         + c.nft_rules(h1))

        # CHECK (libcni sends the cached result as prevResult to each plugin).
        self.mark = len(rtlib.spy_calls(self.spylog))
        self.cni(h1, "check", None, "lib1", n1,
                 args="IgnoreUnknown=1;K8S_POD_NAME=web;K8S_POD_NAMESPACE=default", cap=cap)
        checks = self.calls()
        self.assertEqual([x["plugin"] for x in checks if x["env"]["CNI_COMMAND"] == "CHECK"][:1], ["overlay"])
        for x in checks:
            if x["plugin"] in ("overlay", "gwbridge"):
                self.assertEqual(x["env"]["CNI_COMMAND"], "CHECK")
                self.assertIn("prevResult", x["stdin"])
        # CHECK notices a broken attachment.
        c.t.run(n1, "ip", "addr", "flush", "dev", "eth0")
        p = self.cni(h1, "check", None, "lib1", n1, cap=cap, check=False)
        self.assertNotEqual(p.returncode, 0, "CHECK passed with eth0's address removed")

        # DEL in reverse order with prevResult, then a second DEL (idempotent), for both containers.
        self.mark = len(rtlib.spy_calls(self.spylog))
        self.cni(h1, "del", None, "lib1", n1, cap=cap)
        order = [x["plugin"] for x in self.calls() if x["plugin"] != "overlay-ipam"]
        self.assertEqual(order, ["gwbridge", "overlay"])
        self.assertTrue(all("prevResult" in x["stdin"] for x in self.calls() if x["plugin"] != "overlay-ipam"))
        self.cni(h1, "del", None, "lib1", n1, cap=cap)
        self.cni(h2, "del", None, "lib2", n2)
        self.assertEqual(c.t.run(n1, "ip", "-j", "link").stdout.count("ifname"), 1)  # only lo is left
        p = c.t.run(h2, "curl", "-s", "-o", "/dev/null", "-m", "2", f"http://{h1.ip}:8080/", check=False)
        self.assertNotEqual(p.returncode, 0)
        for h in c.hosts:
            self.assertEqual(c.attachment_links(h), [], h.name)
            self.assertEqual(c.file_leases(h), [], h.name)
        self.assertEqual(c.consul_leftovers(), [])
        self.assertNotIn("8080", c.nft_rules(h1))

    def test_2_reference_plugins_accept_our_result(self):
        c = self.c
        h1 = c.hosts[0]
        cap = {"portMappings": [{"hostPort": 8081, "containerPort": 80, "protocol": "tcp"}],
               "bandwidth": {"ingressRate": 8000000, "ingressBurst": 80000, "egressRate": 8000000, "egressBurst": 80000}}
        n1, r1 = self.add(h1, self.refchain, "ref1", args="IgnoreUnknown=1", cap=cap)
        # tuning set its sysctl inside the container; bandwidth put a tbf qdisc on our host veth.
        self.assertEqual(c.t.run(n1, "sysctl", "-n", "net.ipv4.conf.eth0.accept_redirects").stdout.strip(), "0")
        hostveth = [i["name"] for i in r1["interfaces"] if i["name"].startswith("ovv")]
        self.assertEqual(len(hostveth), 1, r1["interfaces"])
        qd = c.t.run(h1, "tc", "qdisc", "show", "dev", hostveth[0]).stdout
        self.assertIn("tbf", qd)
        # portmap's iptables rules point at the container's first address (our eth0).
        nat = c.t.run(h1, "iptables-save", "-t", "nat").stdout
        self.assertIn("--dport 8081", nat)
        p = self.cni(h1, "check", self.refchain, "ref1", n1, args="IgnoreUnknown=1", cap=cap, check=False)
        if p.returncode != 0:
            # Debian's portmap 1.1.1 fails CHECK for every IPv4-only container, whatever the earlier plugins
            # returned (containernetworking/plugins#819); check the rest of the chain without it.
            self.assertIn("could not check ipv6 dnat", p.stderr)
            self.cni(h1, "check", self.refchain_noportmap, "ref1", n1, args="IgnoreUnknown=1", cap=cap)
        self.cni(h1, "del", self.refchain, "ref1", n1, args="IgnoreUnknown=1", cap=cap)
        self.cni(h1, "del", self.refchain, "ref1", n1, args="IgnoreUnknown=1", cap=cap)
        self.assertNotIn("--dport 8081", c.t.run(h1, "iptables-save", "-t", "nat").stdout)
        self.assertEqual(c.attachment_links(h1), [])
        self.assertEqual([l["ifname"] for l in c.links(h1) if l["ifname"].startswith("ifb")], [])

    def test_3_del_without_netns_and_cache(self):
        """containerd/CRI remove: DEL with an empty netns and no cached result still releases everything."""
        c = self.c
        h1 = c.hosts[0]
        n1, r1 = self.add(h1, None, "lib3", args="IgnoreUnknown=1",
                          cap={"portMappings": [{"hostPort": 8082, "containerPort": 80, "protocol": "tcp"}]})
        # Drop libcni's cache so DEL carries no prevResult, and remove the container netns.
        for f in os.listdir(os.path.join(c.tmp, "cache-h1", "results")):
            if "lib3" in f:
                os.unlink(os.path.join(c.tmp, "cache-h1", "results", f))
        c.t.remove_container(n1)
        self.mark = len(rtlib.spy_calls(self.spylog))
        self.cni(h1, "del", None, "lib3", "")
        for x in self.calls():
            self.assertEqual(x["env"].get("CNI_NETNS", ""), "")
            self.assertNotIn("prevResult", x["stdin"])
        self.assertEqual(c.attachment_links(h1), [])
        self.assertEqual(c.file_leases(h1), [])
        self.assertNotIn("8082", c.nft_rules(h1))
        self.assertEqual([k for k in c.consul_leftovers() if "lib3" in k or "/leases/" in k], [])

    def test_4_version_probe(self):
        p = subprocess.run([self.runner, "version", self.chains["h1"]], capture_output=True, text=True,
                           env=dict(os.environ, CNI_PATH=self.bin), timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        for line in p.stdout.splitlines():
            self.assertIn("1.0.0", line.split()[1].split(","))

    def test_5_cni_args_ip_and_mac_are_for_the_overlay(self):
        """podman sends --ip and --mac-address only as CNI_ARGS IP=/MAC=, and libcni gives CNI_ARGS to every
        plugin of the chain: gwbridge (chained, on its own 172.18/16 pool) must leave them to the overlay."""
        c = self.c
        h2 = c.hosts[1]
        n1, r1 = self.add(h2, None, "lib5", args="IgnoreUnknown=1;IP=10.0.0.55;MAC=02:00:00:00:00:55")
        self.assertEqual(c.addrs(n1, "eth0"), ["10.0.0.55/24"])
        self.assertEqual(c.link(n1, "eth0")["address"], "02:00:00:00:00:55")
        self.assertTrue(c.addrs(n1, "gw-eth0")[0].startswith("172.18."))
        self.assertNotEqual(c.link(n1, "gw-eth0")["address"], "02:00:00:00:00:55")
        self.cni(h2, "del", None, "lib5", n1, args="IgnoreUnknown=1;IP=10.0.0.55;MAC=02:00:00:00:00:55")

    def test_9_everything_gone(self):
        for h in self.c.hosts:
            self.assertEqual(self.c.attachment_links(h), [], h.name)
            self.assertEqual(self.c.file_leases(h), [], h.name)
        self.assertEqual(self.c.consul_leftovers(), [])


if __name__ == "__main__":
    unittest.main()
