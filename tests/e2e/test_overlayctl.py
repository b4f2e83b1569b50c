"""End-to-end: overlayctl against a real Consul and two simulated hosts (issue 9).

Topology: an underlay switch (198.51.100.0/24), a Consul host, hosts h1 and h2 with a node config each.
overlayctl always runs inside a host namespace, never in the root one.
"""

import json
import os
import unittest

from ovltest.cleanup import run_all
from ovltest.consul import ConsulServer
from ovltest.netns import Topology
from ovltest.plugins import find_binary, run_plugin

PREFIX = "overlay-cni"


class Cluster:
    def __init__(self):
        self.t = Topology()
        self.t.start()
        self.cs = self.t.add_host("cs", "198.51.100.10/24")
        self.hosts = [self.t.add_host(f"h{i}", f"198.51.100.{10 + i}/24", mtu=1400) for i in (1, 2)]
        self.consul = ConsulServer(self.t, self.cs, "198.51.100.10")
        self.node_cfg = {}
        for h in self.hosts:
            path = os.path.join(self.t.tmpdir, f"node-{h.name}.json")
            with open(path, "w") as f:
                json.dump({"store": self.consul.store_url, "hostName": h.name, "advertise": "eth0",
                           "stateDir": os.path.join(self.t.tmpdir, "state")}, f)
            self.node_cfg[h.name] = path

    def env(self, host):
        return {"OVL_NODE_CONFIG": self.node_cfg[host.name]}

    def ctl(self, host, *args, rc=0, env=None):
        p = self.t.run(host, find_binary("overlayctl"), *args, env=env or self.env(host), check=False)
        if rc is not None and p.returncode != rc:
            raise AssertionError(f"overlayctl {' '.join(args)} on {host.name}: rc={p.returncode}, want {rc}\n"
                                 f"stdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def ctl_json(self, host, *args, rc=0):
        return json.loads(self.ctl(host, *args, "--json", rc=rc).stdout)

    def plugin(self, host, command, conf, cid, netns, ifname="eth0", cni_args=""):
        rc, res, out, err = run_plugin(self.t, host, "overlay", command, conf, cid, netns, ifname, cni_args,
                                       extra_env=self.env(host))
        if rc != 0:
            raise AssertionError(f"{command} {cid} on {host.name} failed rc={rc}: {out} {err[-1500:]}")
        return res


class OverlayctlE2E(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster()
        cls.attached = []  # (host, conf, cid)

    @classmethod
    def tearDownClass(cls):
        failed = run_all([lambda a=a: cls.c.plugin(a[0], "DEL", a[1], a[2], "") for a in cls.attached])
        cls.c.t.cleanup()
        assert not failed, f"DEL in cleanup failed: {failed}"

    def attach(self, host, conf, cid, cni_args=""):
        netns = self.c.t.add_container(host, cid)
        res = self.c.plugin(host, "ADD", conf, cid, netns, cni_args=cni_args)
        self.attached.append((host, conf, cid))
        return netns, res

    def kinds(self, report):
        return sorted({f["kind"] for f in report["findings"]})

    # ---------------------------------------------------------------------------------------------
    def test_1_create_ls_and_usage(self):
        c = self.c
        h1, h2 = c.hosts
        out = c.ctl(h1, "network", "create", "blue", "--subnet", "10.10.0.0/24", "--gateway", "10.10.0.254").stdout
        conflist = json.loads(out)
        self.assertEqual(conflist["name"], "blue")
        self.assertEqual(conflist["plugins"][0]["type"], "overlay")
        self.assertNotIn("ranges", conflist["plugins"][0]["ipam"])  # refers to the network by name only
        # What podman needs to pass --network-alias and -p: the aliases capability, and gwbridge chained.
        self.assertEqual(conflist["plugins"][0]["capabilities"], {"ips": True, "mac": True, "aliases": True})
        self.assertEqual(conflist["plugins"][1], {"type": "gwbridge", "capabilities": {"portMappings": True}})
        self.assertEqual(conflist["cniVersion"], "1.0.0")
        type(self).conflist = conflist
        stored = json.loads(c.consul.kv_get(f"{PREFIX}/networks/blue/config"))
        self.assertEqual(stored["subnets"], [{"subnet": "10.10.0.0/24", "gateway": "10.10.0.254"}])
        self.assertEqual(c.consul.kv_get(f"{PREFIX}/vnis/{stored['vni']}"), "blue")

        # Recorded once: a second create, from the other host, is refused and names the network.
        p = c.ctl(h2, "network", "create", "blue", "--subnet", "10.10.0.0/24", rc=1)
        self.assertIn("'blue' already exists", p.stderr)
        p = c.ctl(h2, "network", "create", "green", "--subnet", "10.10.0.128/25", rc=1)
        self.assertIn("overlaps network blue", p.stderr)

        # Default subnet (Docker's: 10.0.0.0/24 first), a given VNI, --install.
        d = os.path.join(c.t.tmpdir, "net.d")
        os.makedirs(d, exist_ok=True)
        c.ctl(h2, "network", "create", "red", "--vni", "5000", "--ip-range", "10.0.0.128/25", rc=2)
        c.ctl(h2, "network", "create", "red", "--vni", "5000", "--install", d)
        c.ctl(h1, "network", "create", "violet", "--subnet", "10.30.0.0/24", "--ip-range", "10.30.0.128/25")
        with open(os.path.join(d, "red.conflist")) as f:
            self.assertEqual(json.load(f)["name"], "red")
        # The next default skips what is taken; a node config's defaultAddressPools replaces Docker's pool.
        p = c.ctl(h1, "network", "create", "orange", "--no-gwbridge")
        self.assertEqual([x["type"] for x in json.loads(p.stdout)["plugins"]], ["overlay"])
        pools_cfg = os.path.join(c.t.tmpdir, "node-pools.json")
        with open(c.node_cfg["h1"]) as f:
            cfg = json.load(f)
        with open(pools_cfg, "w") as f:
            json.dump(cfg | {"defaultAddressPools": [{"base": "10.10.0.0/23", "size": 24},
                                                     {"base": "172.18.64.0/18", "size": 26}]}, f)
        c.ctl(h1, "network", "create", "indigo", env={"OVL_NODE_CONFIG": pools_cfg})
        with open(pools_cfg, "w") as f:
            json.dump(cfg | {"defaultAddressPools": [{"base": "10.10.0.0/16", "size": 8}]}, f)
        p = c.ctl(h1, "network", "create", "x", env={"OVL_NODE_CONFIG": pools_cfg}, rc=1)
        self.assertIn("defaultAddressPools", p.stderr)
        defaults = {n["name"]: n["subnets"] for n in c.ctl_json(h2, "network", "ls")}
        self.assertEqual((defaults["red"], defaults["orange"], defaults["indigo"]),
                         (["10.0.0.0/24"], ["10.0.1.0/24"], ["10.10.1.0/24"]))

        # The conflist of an existing network, on any host: what create printed; --install.
        self.assertEqual(json.loads(c.ctl(h2, "network", "conflist", "blue").stdout), conflist)
        c.ctl(h1, "network", "conflist", "red", "--install", d)
        with open(os.path.join(d, "red.conflist")) as f:
            self.assertEqual(json.load(f), json.loads(c.ctl(h2, "network", "conflist", "red").stdout))
        self.assertIn("not defined", c.ctl(h1, "network", "conflist", "nosuch", rc=1).stderr)
        for net in ("orange", "indigo"):
            c.ctl(h1, "network", "rm", net)

        # ls shows the same on both hosts.
        ls1, ls2 = c.ctl_json(h1, "network", "ls"), c.ctl_json(h2, "network", "ls")
        self.assertEqual(ls1, ls2)
        by = {n["name"]: n for n in ls1}
        self.assertEqual(by["blue"]["subnets"], ["10.10.0.0/24"])
        self.assertEqual(by["blue"]["vni"], stored["vni"])
        self.assertEqual(by["red"], {"name": "red", "vni": 5000, "subnets": ["10.0.0.0/24"], "scope": "global",
                                     "hosts": 0, "containers": 0})
        table = c.ctl(h1, "network", "ls").stdout.splitlines()
        self.assertEqual(table[0].split(), ["NAME", "VNI", "SUBNETS", "SCOPE", "HOSTS", "CONTAINERS"])
        self.assertTrue(any(line.split()[:2] == ["red", "5000"] for line in table[1:]))

        # Usage errors exit 2 and name the culprit; --help everywhere.
        self.assertIn("unknown command 'nope'", c.ctl(h1, "nope", rc=2).stderr)
        self.assertIn("'--bogus'", c.ctl(h1, "network", "ls", "--bogus", rc=2).stderr)
        self.assertIn("'300.0.0.0/8'", c.ctl(h1, "network", "create", "x", "--subnet", "300.0.0.0/8", rc=2).stderr)
        self.assertIn("--vni", c.ctl(h1, "network", "create", "x", "--vni", "0", rc=2).stderr)
        for cmd in (["network", "create"], ["network", "conflist"], ["network", "ls"], ["network", "inspect"],
                    ["network", "rm"], ["hosts"], ["leases"], ["diag"], ["network"]):
            self.assertIn("Usage: overlayctl", c.ctl(h1, *cmd, "--help").stdout)
        # Usage errors are one line.
        self.assertEqual(c.ctl(h1, "network", "ls", "--bogus", rc=2).stderr.count("\n"), 1)
        self.assertIn("not defined", c.ctl(h1, "network", "inspect", "nosuch", rc=1).stderr)
        # --store overrides the node config.
        p = c.ctl(h1, "network", "ls", "--store", "consul://198.51.100.99:8500", rc=1)
        self.assertIn("198.51.100.99", p.stderr)
        # Global options before the command, as --help lists them.
        p = c.ctl(h1, "--store", "consul://198.51.100.99:8500", "network", "ls", rc=1)
        self.assertIn("198.51.100.99", p.stderr)
        self.assertEqual(c.ctl_json(h1, "network", "ls"),
                         json.loads(c.ctl(h1, "--json", f"--store={c.consul.store_url}", "network", "ls").stdout))
        self.assertIn("'--bogus'", c.ctl(h1, "--bogus", "network", "ls", rc=2).stderr)

    def test_2_conflist_by_name_on_two_hosts(self):
        c = self.c
        h1, h2 = c.hosts
        conf = self.conflist["plugins"][0] | {"cniVersion": "1.0.0", "name": "blue"}
        n1, r1 = self.attach(h1, conf, "c1")
        n2, r2 = self.attach(h2, conf, "c2", "K8S_POD_NAME=Web2")  # podman: the container's name
        n3, r3 = self.attach(h1, conf, "c3")  # h1 learns h2's membership at this ADD
        ips = [r["ips"][0]["address"] for r in (r1, r2, r3)]
        self.assertEqual(ips, ["10.10.0.1/24", "10.10.0.2/24", "10.10.0.3/24"])
        self.assertEqual(r1["ips"][0]["gateway"], "10.10.0.254")
        vni = json.loads(c.consul.kv_get(f"{PREFIX}/networks/blue/config"))["vni"]
        for h in (h1, h2):
            vx = json.loads(c.t.run(h, "ip", "-d", "-j", "link", "show", f"ovx-{vni}").stdout)[0]
            self.assertEqual(vx["linkinfo"]["info_data"]["id"], vni)
        self.assertTrue(c.t.ping(n1, "10.10.0.2"))
        # --ip-range: addresses come from that part of the subnet only.
        # The shortest conflist: no ipam section at all.
        _, r4 = self.attach(h2, {"cniVersion": "1.0.0", "name": "violet", "type": "overlay"}, "c4")
        self.assertEqual(r4["ips"][0]["address"], "10.30.0.128/24")
        self.assertEqual(r4["ips"][0]["gateway"], "10.30.0.1")

        i1, i2 = c.ctl(h1, "network", "inspect", "blue").stdout, c.ctl(h2, "network", "inspect", "blue").stdout
        self.assertEqual(i1, i2)
        net = json.loads(i1)[0]
        self.assertEqual(net["vni"], vni)
        self.assertEqual({h["host"]: h["vtep"] for h in net["hosts"]}, {"h1": h1.ip, "h2": h2.ip})
        att = {a["containerID"]: a for a in net["attachments"]}
        self.assertEqual(set(att), {"c1", "c2", "c3"})
        self.assertEqual(att["c2"]["host"], "h2")
        self.assertEqual(att["c2"]["ips"], ["10.10.0.2/24"])
        self.assertEqual(att["c2"]["mac"], r2["interfaces"][2]["mac"])
        self.assertEqual((att["c1"]["names"], att["c2"]["names"]), ([], ["web2"]))
        self.assertEqual(sorted(l["ip"] for l in net["leases"]), ["10.10.0.1", "10.10.0.2", "10.10.0.3"])

        leases = c.ctl_json(h2, "leases", "blue")
        self.assertEqual(len(leases), 3)
        self.assertTrue(all(l["attached"] for l in leases))
        self.assertEqual({l["containerID"]: l["names"] for l in leases}, {"c1": [], "c2": ["web2"], "c3": []})
        table = c.ctl(h2, "leases", "blue").stdout.splitlines()
        self.assertEqual(table[0].split()[:4], ["NETWORK", "IP", "CONTAINER", "NAMES"])
        self.assertIn(["blue", "10.10.0.2", "c2", "web2"], [line.split()[:4] for line in table[1:]])
        hosts = {h["host"]: h for h in c.ctl_json(h1, "hosts")}
        self.assertEqual(hosts["h1"]["containers"], 2)
        self.assertEqual(hosts["h2"]["networks"], ["blue", "violet"])
        ls = {n["name"]: n for n in c.ctl_json(h2, "network", "ls")}
        self.assertEqual((ls["blue"]["hosts"], ls["blue"]["containers"]), (2, 3))

        # A network nobody defined, referred to by name only: the error says what to do.
        rc, _, out, _ = run_plugin(c.t, h1, "overlay", "ADD", {"cniVersion": "1.0.0", "name": "nodef", "type": "overlay"},
                                   "c9", c.t.add_container(h1, "c9"), "eth0", extra_env=c.env(h1))
        self.assertNotEqual(rc, 0)
        self.assertIn("overlayctl network create nodef", out)

        p = c.ctl(h2, "network", "rm", "blue", rc=1)
        self.assertIn("attachment", p.stderr)
        self.assertIn("c2 (web2) on h2", p.stderr)
        self.assertIsNotNone(c.consul.kv_get(f"{PREFIX}/networks/blue/config"))

        for h in (h1, h2):
            rep = c.ctl_json(h, "diag")
            self.assertEqual(rep["findings"], [], f"{h.name}: {rep}")
            self.assertTrue(rep["healthy"])
            self.assertIn("healthy", c.ctl(h, "diag", "blue").stdout)

    def test_3_diag_reports_and_repairs_faults(self):
        c = self.c
        h1, h2 = c.hosts
        vni = json.loads(c.consul.kv_get(f"{PREFIX}/networks/blue/config"))["vni"]

        # (a) deleted VXLAN device
        c.t.run(h1, "ip", "link", "del", f"ovx-{vni}")
        rep = c.ctl_json(h1, "diag", rc=1)
        self.assertEqual(self.kinds(rep), ["vxlan-missing"])
        self.assertIn("problem", c.ctl(h1, "diag", rc=1).stdout)
        rep = c.ctl_json(h1, "diag", "--fix")
        self.assertTrue(rep["healthy"], rep)
        self.assertEqual([f["outcome"] for f in rep["findings"]], ["fixed"])
        fdb = c.t.run(h1, "bridge", "fdb", "show", "dev", f"ovx-{vni}").stdout
        self.assertIn(f"00:00:00:00:00:00 dst {h2.ip}", fdb)

        # (b) missing flood entry
        c.t.run(h1, "bridge", "fdb", "del", "00:00:00:00:00:00", "dev", f"ovx-{vni}", "dst", h2.ip)
        rep = c.ctl_json(h1, "diag", "blue", rc=1)
        self.assertEqual(self.kinds(rep), ["flood-missing"])
        self.assertIn(h2.ip, rep["findings"][0]["object"])
        c.ctl(h1, "diag", "--fix")
        self.assertIn(f"dst {h2.ip}", c.t.run(h1, "bridge", "fdb", "show", "dev", f"ovx-{vni}").stdout)

        # (c) a stale lease of a container that no longer exists, (d) a leftover gwbridge nftables rule
        c.consul.kv_put(f"{PREFIX}/ipam/blue/leases/10.10.0.99", json.dumps(
            {"containerID": "ghost", "ifname": "eth0", "host": "h1", "time": "2020-01-01T00:00:00Z"}))
        c.consul.kv_put(f"{PREFIX}/ipam/blue/owners/h1/ghost/eth0", json.dumps(["10.10.0.99"]))
        c.t.run(h1, "nft", "-f", "-", input=(
            "add table inet ovl_gwbridge\n"
            "add chain inet ovl_gwbridge postrouting { type nat hook postrouting priority srcnat; }\n"
            "add rule inet ovl_gwbridge postrouting ip saddr 172.18.0.9 masquerade comment \"ovl:blue:ghost:eth1\"\n"))
        # Another host's view is unaffected by h1's faults.
        self.assertTrue(c.ctl_json(h2, "diag")["healthy"])
        rep = c.ctl_json(h1, "diag", rc=1)
        self.assertEqual(self.kinds(rep), ["lease-stale", "nft-rule-stale"])
        table = c.ctl(h1, "diag", rc=1).stdout
        self.assertIn("lease 10.10.0.99", table)
        rep = c.ctl_json(h1, "diag", "--fix")
        self.assertTrue(rep["healthy"], rep)
        self.assertIsNone(c.consul.kv_get(f"{PREFIX}/ipam/blue/leases/10.10.0.99"))
        self.assertIsNone(c.consul.kv_get(f"{PREFIX}/ipam/blue/owners/h1/ghost/eth0"))
        self.assertNotIn("ghost", c.t.run(h1, "nft", "list", "table", "inet", "ovl_gwbridge").stdout)
        self.assertEqual(len(c.ctl_json(h1, "leases", "blue")), 3)  # live leases untouched
        for h in (h1, h2):
            self.assertEqual(c.ctl(h, "diag").returncode, 0)

    def test_4_rm(self):
        c = self.c
        h1, h2 = c.hosts
        for host, conf, cid in list(self.attached):
            c.plugin(host, "DEL", conf, cid, "")
            self.attached.remove((host, conf, cid))
        vni = json.loads(c.consul.kv_get(f"{PREFIX}/networks/blue/config"))["vni"]
        self.assertEqual(c.ctl(h2, "network", "rm", "blue").stdout.strip(), "blue")
        self.assertEqual(c.consul.kv_keys(f"{PREFIX}/networks/blue/"), [])
        self.assertEqual(c.consul.kv_keys(f"{PREFIX}/ipam/blue/"), [])
        self.assertIsNone(c.consul.kv_get(f"{PREFIX}/vnis/{vni}"))
        self.assertNotIn("blue", [n["name"] for n in c.ctl_json(h1, "network", "ls")])
        c.ctl(h1, "network", "rm", "violet")
        # --force removes a network with (here: a recorded) attachment.
        c.consul.kv_put(f"{PREFIX}/attachments/red/h2/zz/eth0", json.dumps({"containerID": "zz", "ifname": "eth0"}))
        c.ctl(h1, "network", "rm", "red", rc=1)
        c.ctl(h1, "network", "rm", "red", "--force")
        self.assertEqual(c.consul.kv_keys(f"{PREFIX}/attachments/red/"), [])
        # The network's leases go from the pool its IPAM config names, not only the pool of its name: a pool of
        # its own with its tree, a pool shared with another network with only its leases and owner indexes.
        lease = lambda cid, net: json.dumps({"containerID": cid, "ifname": "eth0", "host": "h1",  # noqa: E731
                                             "network": net, "time": "2024-01-01T00:00:00Z"})
        records = {"networks/amber/config": json.dumps({"vni": 4321, "scope": "global", "subnets": []}),
                   "vnis/4321": "amber", "attachments/amber/h1/a1/eth0": json.dumps({"ips": ["10.60.0.2/24"]}),
                   "ipam/shr/leases/10.60.0.2": lease("a1", "amber"), "ipam/shr/owners/h1/a1/eth0": '["10.60.0.2"]',
                   "ipam/shr/leases/10.60.0.3": lease("o1", "other"), "ipam/shr/owners/h1/o1/eth0": '["10.60.0.3"]',
                   "ipam/shr/cursor/0": "10.60.0.3",
                   "ipam/amb2/leases/10.61.0.2": lease("a2", "amber"), "ipam/amb2/owners/h1/a2/eth0": '["10.61.0.2"]',
                   "ipam/amb2/cursor/0": "10.61.0.2"}
        for k, v in records.items():
            c.consul.kv_put(f"{PREFIX}/{k}", v)
        c.ctl(h1, "network", "rm", "amber", "--force")
        self.assertEqual(c.consul.kv_keys(f"{PREFIX}/ipam/amb2/"), [])
        self.assertEqual(sorted(c.consul.kv_keys(f"{PREFIX}/ipam/shr/")),
                         [f"{PREFIX}/ipam/shr/{k}" for k in ("cursor/0", "leases/10.60.0.3", "owners/h1/o1/eth0")])
        self.assertIsNone(c.consul.kv_get(f"{PREFIX}/vnis/4321"))
        for k in c.consul.kv_keys(f"{PREFIX}/ipam/shr/"):
            c.consul.kv_delete(k)
        self.assertEqual(c.ctl_json(h1, "network", "ls"), [])


if __name__ == "__main__":
    unittest.main()
