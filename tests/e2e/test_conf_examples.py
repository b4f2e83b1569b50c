"""Every file in conf-examples/ is parsed and used here, the way its runtime uses it (issue 6).

The conflists are run as libcni runs them: the plugins in order for ADD, each getting the previous
result as prevResult, then CHECK and DEL (in reverse) with the cached result; each runtime's own habits
are reproduced (containerd CRI: CapitalCase portMappings, K8S_* args in any order, a second DEL with an
empty CNI_NETNS and no prevResult; podman: lowercase portMappings, IP=/MAC= in CNI_ARGS; CRI-O; a libcni
tool with CHECK). The node config example is every host's OVL_NODE_CONFIG (with the host's own hostName
and a private stateDir); its store address is the Consul of this topology.

Topology: underlay 198.51.100.0/24 with Consul at .10, hosts h1 .11 and h2 .12 each running
`overlay watch`, an internet host 203.0.113.1 behind a router. The simulated hosts share one filesystem,
so the gateway bridge's local lease store is pointed at a per-host folder.
"""

import ipaddress
import json
import os
import re
import secrets
import unittest
import uuid

from ovltest.chain import data_dir, run_chain
from ovltest.cleanup import run_all
from ovltest.consul import ConsulServer
from ovltest.netns import Topology
from ovltest.plugins import OVL_BIN_DIR, OVL_SRC_DIR, find_binary

EXAMPLES = os.path.join(OVL_SRC_DIR, "conf-examples")
PREFIX = "overlay-cni"
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$")
KNOWN_CAPS = {"portMappings", "ips", "mac", "bandwidth", "dns", "ipRanges", "aliases"}

# Which test uses each file: test_every_example_is_used fails when a file is added without a test.
USED_BY = {
    "overlay-node.json": "test_node_config",
    "overlay-gwbridge.conflist": "test_full_chain",
    "containerd-cri.conflist": "test_containerd_cri",
    "crio.conflist": "test_crio",
    "podman.conflist": "test_podman",
    "cnitool-over2.conflist": "test_cnitool",
    "overlay-only.conflist": "test_overlay_only",
    "gwbridge-only.conflist": "test_gwbridge_only",
    "multus-over2.json": "test_multus_second_attachment",
}


def load(name):
    with open(os.path.join(EXAMPLES, name)) as f:
        return json.load(f)


def load_conflist(name):
    """A conflist file, or the spec.config of a NetworkAttachmentDefinition (a JSON string inside)."""
    doc = load(name)
    if doc.get("kind") == "NetworkAttachmentDefinition":
        doc = json.loads(doc["spec"]["config"])
    return doc


def in_net(cidr, net):
    return ipaddress.ip_interface(cidr).ip in ipaddress.ip_network(net)


class Cluster:
    def __init__(self):
        self.t = Topology()
        self.t.start()
        self.cs = self.t.add_host("cs", "198.51.100.10/24")
        self.hosts = {n: self.t.add_host(n, f"198.51.100.{10 + i}/24") for i, n in ((1, "h1"), (2, "h2"))}
        self.inet = self.t.add_internet("203.0.113.1/24")
        self.consul = ConsulServer(self.t, self.cs, "198.51.100.10")
        self.node = load("overlay-node.json")
        self.node_cfg = {}
        for name in self.hosts:
            cfg = dict(self.node, hostName=name, stateDir=os.path.join(self.t.tmpdir, f"state-{name}"))
            path = os.path.join(self.t.tmpdir, f"node-{name}.json")
            with open(path, "w") as f:
                json.dump(cfg, f)
            self.node_cfg[name] = path
        self.watchers = {}
        for name, h in self.hosts.items():
            log = open(os.path.join(self.t.tmpdir, f"watch-{name}.log"), "w")
            self.watchers[name] = self.t.popen(h, find_binary("overlay"), "watch", env=self.env(name),
                                               stdout=log, stderr=log)
            log.close()

    def env(self, host):
        return {"OVL_NODE_CONFIG": self.node_cfg[host]}

    def chain(self, command, host, cl, cid, netns, ifname="eth0", args="", runtime=None, prev=None):
        """ADD in order (prevResult chained); CHECK and DEL in reverse with the cached result."""
        return run_chain(self.t, self.hosts[host], cl, command, cid, netns, ifname, args, runtime, prev,
                         extra_env=self.env(host), gw_data_dir=data_dir(self.t, host))

    def addrs(self, netns):
        out = {}
        for link in json.loads(self.t.run(netns, "ip", "-j", "addr").stdout):
            for a in link.get("addr_info", []):
                if a.get("family") == "inet" and link["ifname"] != "lo":
                    out[link["ifname"]] = (f"{a['local']}/{a['prefixlen']}", link["mtu"])
        return out

    def default_dev(self, netns):
        for r in json.loads(self.t.run(netns, "ip", "-j", "-4", "route").stdout):
            if r.get("dst") == "default":
                return r.get("dev")
        return None

    def ping(self, netns, ip):
        """Up to ~3 s for learning to settle: one-probe pings until one answers."""
        for _ in range(6):
            if self.t.run(netns, "ping", "-n", "-q", "-c", "1", "-W", "0.5", ip, check=False).returncode == 0:
                return True
        return False

    def host_links(self, host):
        return [l["ifname"] for l in json.loads(self.t.run(self.hosts[host], "ip", "-j", "link").stdout)]

    def nft(self, host):
        return self.t.run(self.hosts[host], "nft", "list", "ruleset").stdout


class ConfExamples(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Cluster()

    @classmethod
    def tearDownClass(cls):
        cls.c.t.cleanup()

    def setUp(self):
        self.cleanups = []

    def tearDown(self):
        self.assertEqual(run_all(self.cleanups), [], "DEL in the test's cleanup failed")

    # --- helpers -----------------------------------------------------------------------------------------
    def validate(self, cl):
        """The shape libcni 1.1.2 accepts, with plugin types we build."""
        self.assertEqual(cl["cniVersion"], "1.0.0")  # Debian's libcni rejects 1.1.0 results
        self.assertRegex(cl["name"], NAME_RE)
        self.assertTrue(cl["plugins"])
        for p in cl["plugins"]:
            self.assertIn(p["type"], ("overlay", "gwbridge"))
            self.assertTrue(os.access(os.path.join(OVL_BIN_DIR, p["type"]), os.X_OK), p["type"])
            self.assertLessEqual(set(p.get("capabilities", {})), KNOWN_CAPS)
            if "ipam" in p:
                self.assertEqual(p["ipam"]["type"], "overlay-ipam")
                self.assertTrue(os.access(os.path.join(OVL_BIN_DIR, "overlay-ipam"), os.X_OK))

    def attach(self, host, cl, cid=None, ifname="eth0", args="", runtime=None, netns=None, cri_del=False):
        """ADD a conflist to a new (or given) container; the cleanup DELs it like the runtime would."""
        cid = cid or secrets.token_hex(32)
        netns = netns or self.c.t.add_container(self.c.hosts[host], cid[:12])
        try:
            res = self.c.chain("ADD", host, cl, cid, netns, ifname, args, runtime)
        except AssertionError:
            self.c.chain("DEL", host, cl, cid, netns, ifname, args, runtime)  # as runtimes do after a failed ADD
            raise
        self.cleanups.append(lambda: self.c.chain("DEL", host, cl, cid, "", ifname, args, runtime))
        return cid, netns, res

    def assert_chain_state(self, netns, res, subnet):
        a = self.c.addrs(netns)
        self.assertTrue(in_net(a["eth0"][0], subnet), a)
        self.assertTrue(in_net(a["gw-eth0"][0], "172.18.0.0/16"), a)
        self.assertEqual(self.c.default_dev(netns), "gw-eth0")
        names = [i["name"] for i in res["interfaces"] if i.get("sandbox")]
        self.assertEqual(names, ["eth0", "gw-eth0"])
        self.assertEqual(sorted(ip["address"] for ip in res["ips"]), sorted(v[0] for v in a.values()))
        return a

    def del_and_assert_gone(self, host, cl, cid, netns, ifname, args, prev, runtime=None):
        before = set(self.c.host_links(host))
        self.c.chain("DEL", host, cl, cid, netns, ifname, args, runtime, prev=prev)
        self.cleanups.pop()
        if netns:
            self.assertEqual(list(self.c.addrs(netns)), [])
        leftovers = [k for k in self.c.consul.kv_keys(f"{PREFIX}/") if f"/{cid}/" in k]
        self.assertEqual(leftovers, [])
        self.assertNotIn(cid[:12], self.c.nft(host))
        return before - set(self.c.host_links(host))

    # --- the files ---------------------------------------------------------------------------------------
    def test_every_example_is_used(self):
        files = sorted(f for f in os.listdir(EXAMPLES) if not f.endswith(".md"))
        self.assertEqual(files, sorted(USED_BY))
        for f in files:
            self.assertTrue(hasattr(self, USED_BY[f]), f)
            load(f)  # parses

    def test_node_config(self):
        node = load("overlay-node.json")
        self.assertEqual(node["store"], self.c.consul.store_url)
        self.assertEqual(set(node), {"store", "advertise", "hostName", "port", "stateDir"})
        cl = load_conflist("overlay-only.conflist")
        self.attach("h1", cl)
        # Membership under the node's hostName, VTEP = the advertised interface's address, port as configured.
        m = json.loads(self.c.consul.kv_get(f"{PREFIX}/networks/{cl['name']}/members/h1"))
        self.assertEqual(m["vtep"], self.c.hosts["h1"].ip)
        self.assertEqual(m["port"], node["port"])
        vni = json.loads(self.c.consul.kv_get(f"{PREFIX}/networks/{cl['name']}/config"))["vni"]
        vx = json.loads(self.c.t.run(self.c.hosts["h1"], "ip", "-d", "-j", "link", "show", f"ovx-{vni}").stdout)[0]
        self.assertEqual(vx["linkinfo"]["info_data"]["local"], self.c.hosts["h1"].ip)
        self.assertEqual(vx["linkinfo"]["info_data"]["port"], node["port"])

    def test_overlay_only(self):
        cl = load_conflist("overlay-only.conflist")
        self.validate(cl)
        _, n1, r1 = self.attach("h1", cl)
        _, n2, r2 = self.attach("h2", cl)
        a1 = self.c.addrs(n1)
        self.assertEqual(list(a1), ["eth0"])
        self.assertEqual(a1["eth0"][1], cl["plugins"][0]["mtu"])
        self.assertTrue(in_net(a1["eth0"][0], cl["plugins"][0]["ipam"]["subnet"]))
        self.assertTrue(self.c.ping(n1, r2["ips"][0]["address"].split("/")[0]))

    def test_gwbridge_only(self):
        cl = load_conflist("gwbridge-only.conflist")
        self.validate(cl)
        cid, n1, r1 = self.attach("h1", cl)
        a = self.c.addrs(n1)
        self.assertEqual(list(a), ["eth0"])
        self.assertTrue(in_net(a["eth0"][0], cl["plugins"][0]["ipam"]["subnet"]))
        self.assertEqual(self.c.default_dev(n1), "eth0")
        self.assertIn(cl["plugins"][0]["bridge"], self.c.host_links("h1"))
        self.assertTrue(self.c.ping(n1, "203.0.113.1"))  # masqueraded out of h1
        gone = self.del_and_assert_gone("h1", cl, cid, n1, "eth0", "", r1)
        self.assertEqual(len(gone), 1)  # the host end of the veth; the bridge stays

    def test_full_chain(self):
        cl = load_conflist("overlay-gwbridge.conflist")
        self.validate(cl)
        ports = [{"hostPort": 8090, "containerPort": 80, "protocol": "tcp"}]
        rt = {"portMappings": ports, "mac": "02:00:00:00:0a:01"}
        cid, n1, r1 = self.attach("h1", cl, runtime=rt)
        _, n2, r2 = self.attach("h2", cl)
        subnet = cl["plugins"][0]["ipam"]["subnet"]
        self.assertTrue(self.assert_chain_state(n1, r1, subnet))
        self.assertEqual(json.loads(self.c.t.run(n1, "ip", "-j", "link", "show", "eth0").stdout)[0]["address"],
                         "02:00:00:00:0a:01")
        ip2 = [i["address"] for i in r2["ips"] if in_net(i["address"], subnet)][0].split("/")[0]
        self.assertTrue(self.c.ping(n1, ip2))
        self.assertTrue(self.c.ping(n1, "203.0.113.1"))
        # The published port works from the other host: a web server in the container, curl from h2.
        www = os.path.join(self.c.t.tmpdir, "www-full")
        os.makedirs(www)
        with open(os.path.join(www, "index.html"), "w") as f:
            f.write("full chain\n")
        self.c.t.popen(n1, "/bin/busybox", "httpd", "-f", "-p", "80", "-h", www)
        out = ""
        for _ in range(50):
            p = self.c.t.run(self.c.hosts["h2"], "curl", "-s", "-m", "2", "http://198.51.100.11:8090/", check=False)
            out = p.stdout
            if p.returncode == 0:
                break
        self.assertEqual(out, "full chain\n")
        self.c.chain("CHECK", "h1", cl, cid, n1, runtime=rt, prev=r1)  # libcni sends runtimeConfig again
        self.del_and_assert_gone("h1", cl, cid, n1, "eth0", "", r1, rt)

    def test_containerd_cri(self):
        cl = load_conflist("containerd-cri.conflist")
        self.validate(cl)
        cid = secrets.token_hex(32)
        args = ";".join(["K8S_POD_UID=" + str(uuid.uuid4()), "K8S_POD_NAME=web", "IgnoreUnknown=1",
                         "K8S_POD_INFRA_CONTAINER_ID=" + cid, "K8S_POD_NAMESPACE=default"])  # any order
        ports = [{"HostPort": 8091, "ContainerPort": 80, "Protocol": "TCP", "HostIP": ""}]
        rt = {"portMappings": ports}
        cid, n1, r1 = self.attach("h1", cl, cid=cid, args=args, runtime=rt)
        self.assert_chain_state(n1, r1, cl["plugins"][0]["ipam"]["subnet"])
        self.assertIn("tcp . 8091 comment", self.c.nft("h1"))
        # Stop: DEL with the netns and the cached result; remove: DEL again, empty CNI_NETNS, no prevResult.
        self.c.chain("DEL", "h1", cl, cid, n1, args=args, runtime=rt, prev=r1)
        self.assertEqual(list(self.c.addrs(n1)), [])
        self.del_and_assert_gone("h1", cl, cid, "", "eth0", args, None)
        self.assertNotIn("tcp . 8091 comment", self.c.nft("h1"))

    def test_crio(self):
        cl = load_conflist("crio.conflist")
        self.validate(cl)
        args = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=db;K8S_POD_INFRA_CONTAINER_ID=x"
        ports = [{"hostPort": 8092, "containerPort": 5432, "protocol": "tcp", "hostIP": ""}]
        rt = {"portMappings": ports, "ips": ["10.0.0.60/24"]}
        cid, n1, r1 = self.attach("h2", cl, args=args, runtime=rt)
        a = self.assert_chain_state(n1, r1, cl["plugins"][0]["ipam"]["subnet"])
        self.assertEqual(a["eth0"][0], "10.0.0.60/24")  # runtimeConfig.ips through the ips capability
        self.assertIn("tcp . 8092 comment", self.c.nft("h2"))
        self.c.chain("CHECK", "h2", cl, cid, n1, args=args, runtime=rt, prev=r1)
        self.del_and_assert_gone("h2", cl, cid, n1, "eth0", args, r1, rt)

    def test_podman(self):
        cl = load_conflist("podman.conflist")
        self.validate(cl)
        # podman run --name pm1 --network over --network-alias pmdb --mac-address 02:00:00:00:00:51 -p 8093:80
        args = "IgnoreUnknown=1;K8S_POD_NAME=pm1;MAC=02:00:00:00:00:51"
        ports = [{"hostPort": 8093, "containerPort": 80, "protocol": "tcp"}]
        rt = {"portMappings": ports, "aliases": {"over": ["pm1", "pmdb"]}}
        cid, n1, r1 = self.attach("h1", cl, args=args, runtime=rt)
        # The alias reaches the overlay only through the aliases capability (libcni filters runtimeConfig).
        att = json.loads(self.c.consul.kv_get(f"{PREFIX}/attachments/{cl['name']}/h1/{cid}/eth0"))
        self.assertEqual(att["names"], ["pm1", "pmdb"])
        self.assert_chain_state(n1, r1, cl["plugins"][0]["ipam"]["subnet"])
        self.assertTrue(all(re.fullmatch(r"[0-9a-f:]{17}", i["mac"]) for i in r1["interfaces"]))  # podman needs mac
        eth0 = json.loads(self.c.t.run(n1, "ip", "-j", "link", "show", "eth0").stdout)[0]
        self.assertEqual(eth0["address"], "02:00:00:00:00:51")
        self.assertIn("tcp . 8093 comment", self.c.nft("h1"))
        self.del_and_assert_gone("h1", cl, cid, n1, "eth0", args, r1, rt)

    def test_podman_static_ip(self):
        # podman run --network over --ip 10.0.0.50: IP= in CNI_ARGS reaches every plugin of the chain; it is
        # the overlay's address, the gateway bridge must keep allocating from its own range.
        cl = load_conflist("podman.conflist")
        args = "IgnoreUnknown=1;K8S_POD_NAME=pm2;IP=10.0.0.50"
        cid, n1, r1 = self.attach("h2", cl, args=args)
        a = self.assert_chain_state(n1, r1, cl["plugins"][0]["ipam"]["subnet"])
        self.assertEqual(a["eth0"][0], "10.0.0.50/24")
        self.del_and_assert_gone("h2", cl, cid, n1, "eth0", args, r1)

    def test_cnitool(self):
        cl = load_conflist("cnitool-over2.conflist")
        self.validate(cl)
        cid, n1, r1 = self.attach("h2", cl)
        self.assert_chain_state(n1, r1, cl["plugins"][0]["ipam"]["subnet"])
        self.c.chain("CHECK", "h2", cl, cid, n1, prev=r1)
        self.del_and_assert_gone("h2", cl, cid, n1, "eth0", "", r1)

    def test_multus_second_attachment(self):
        nad = load("multus-over2.json")
        self.assertEqual(nad["kind"], "NetworkAttachmentDefinition")
        second = load_conflist("multus-over2.json")
        self.validate(second)
        first = load_conflist("overlay-gwbridge.conflist")
        # A pod on the default network (eth0 + gw-eth0), then Multus adds net1 from the attachment definition.
        cid, n1, _ = self.attach("h1", first)
        _, _, r2 = self.attach("h1", second, cid=cid, ifname="net1", netns=n1)
        peer_cid, n2, r3 = self.attach("h2", second, ifname="net1")
        a = self.c.addrs(n1)
        self.assertEqual(sorted(a), ["eth0", "gw-eth0", "net1"])
        self.assertTrue(in_net(a["net1"][0], second["plugins"][0]["ipam"]["subnet"]))
        self.assertEqual(self.c.default_dev(n1), "gw-eth0")  # the second attachment leaves the default route
        self.assertTrue(self.c.ping(n1, r3["ips"][0]["address"].split("/")[0]))


if __name__ == "__main__":
    unittest.main()
