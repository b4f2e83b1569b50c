"""End-to-end: hostile tenants (issue 16). A container, a network config or a stranger tries to get at the
hosts; none of them may.

Topology (network namespaces only): a Consul host cs (198.51.100.10), hosts h1 and h2 (198.51.100.11-12)
running the overlay+gwbridge chain with the Consul store, a router and an "internet" host 203.0.113.1, and an
underlay neighbour nbr (198.51.100.20) that runs no plugin.
Containers are empty namespaces; hostile programs inside them are small Python scripts.
"""

import json
import os
import time
import unittest
import uuid

import netprogs
from hostile_progs import CLIENT, LISTENER, RA_SENDER, SPEAK_LATER
from ovltest.chain import run_chain
from ovltest.consul import ConsulServer
from ovltest.faults import wait_for
from ovltest.netns import Topology
from ovltest.plugins import find_binary, run_plugin
from ovltest.timing import scaled

PY = "/usr/bin/python3"
NET = "hostile"
SUBNET = "10.77.0.0/24"

LISTENER_IP = "198.51.100.99"
HEALTH_VNI = 16777214  # the health mesh's default reserved VNI (node config health.vni)
NEIGHBOUR_IP = "198.51.100.20"
GW_SUBNET = "172.18.0.0/16"  # gwbridge's default pool on cni_gwbridge
STRANGER_IP = "198.51.100.13"  # item 5: a host on the underlay, not a member until the test makes it one
INTRUDER_IP = "10.77.0.250"  # the address the stranger gives itself inside the overlay's subnet


class Env:
    """The cluster shared by the tests of this module."""

    def __init__(self):
        self.t = Topology()
        self.t.start()
        try:
            self.cs = self.t.add_host("cs", "198.51.100.10/24")
            self.h1 = self.t.add_host("h1", "198.51.100.11/24")
            self.h2 = self.t.add_host("h2", "198.51.100.12/24")
            self.hosts = (self.h1, self.h2)
            self.inet = self.t.add_internet("203.0.113.1/24")
            self.consul = ConsulServer(self.t, self.cs, "198.51.100.10")
            tmp = self.t.tmpdir
            self.ra_py = self.script("ra.py", RA_SENDER)
            self.speak_py = self.script("speak.py", SPEAK_LATER)
            self.client_py = self.script("client.py", CLIENT)
            self.server_py = self.script("server.py", netprogs.SERVER)
            self.netclient_py = self.script("netclient.py", netprogs.CLIENT)
            self.nbr = self.t.add_host("nbr", f"{NEIGHBOUR_IP}/24")
            self.listener = self.t.add_host("lsn", f"{LISTENER_IP}/24")
            self.listener_log = os.path.join(tmp, "listener.log")
            ready = os.path.join(tmp, "listener.ready")
            self.t.popen(self.listener, PY, self.script("listener.py", LISTENER), self.listener_log, ready)
            deadline = time.monotonic() + scaled(10)
            while not os.path.exists(ready):
                if time.monotonic() > deadline:
                    raise AssertionError("the listener did not start")
                time.sleep(0.05)
            self.node_cfg = {}
            for h in self.hosts:
                self.node_cfg[h.name] = self.write_node_config(h, {})
                # The watcher keeps flood lists in step, so a container's broadcast reaches every member.
                log = open(os.path.join(tmp, f"watch-{h.name}.log"), "w")
                self.t.popen(h, find_binary("overlay"), "watch", env=self.env(h), stdout=log, stderr=log)
                log.close()
        except BaseException:
            self.t.cleanup()
            raise

    def close(self):
        self.t.cleanup()

    def script(self, name, text):
        path = os.path.join(self.t.tmpdir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def write_node_config(self, host, extra, name=None):
        path = os.path.join(self.t.tmpdir, name or f"node-{host.name}.json")
        cfg = {"store": self.consul.store_url, "hostName": host.name, "advertise": "eth0",
               "stateDir": os.path.join(self.t.tmpdir, "state")}
        cfg.update(extra)
        cfg = {k: v for k, v in cfg.items() if v is not None}
        with open(path, "w") as f:
            json.dump(cfg, f)
        os.chmod(path, 0o600)
        return path

    def env(self, host):
        return {"OVL_NODE_CONFIG": self.node_cfg[host.name]}

    def wait_file(self, path, what, timeout=10):
        deadline = time.monotonic() + timeout
        while not os.path.exists(path):
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} did not happen")
            time.sleep(0.05)

    def serve(self, ns, tag, *specs):
        """netprogs.SERVER in ns on "tcp:PORT"/"udp:PORT"; returns the path of its datagram log."""
        log, ready = (os.path.join(self.t.tmpdir, f"svc-{tag}.{x}") for x in ("log", "ready"))
        open(log, "w").close()
        self.t.popen(ns, PY, self.server_py, tag, ready, f"log:{log}", *specs)
        self.wait_file(ready, f"server {tag}")
        return log

    def try_connect(self, ns, proto, host, port, timeout=1.0):
        """The answer of the server at host:port to a client in ns, or None."""
        p = self.t.run(ns, PY, self.netclient_py, proto, host, port, timeout, check=False, timeout=timeout + 10)
        return p.stdout.strip() if p.returncode == 0 else None

    def heard(self):
        """Everything the listener has received so far."""
        try:
            with open(self.listener_log, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def conflist(self, gwbridge=True, ports=False):
        plugins = [{"type": "overlay", "ipam": {"type": "overlay-ipam", "subnet": SUBNET, "store": "consul"}}]
        if gwbridge:
            gw = {"type": "gwbridge"}
            if ports:
                gw["capabilities"] = {"portMappings": True}
            plugins.append(gw)
        return {"cniVersion": "1.0.0", "name": NET, "plugins": plugins}

    def gw_data_dir(self, host):
        return os.path.join(self.t.tmpdir, f"gw-{host.name}")

    def chain(self, host, command, cl, cid, netns, runtime=None, prev=None):
        return run_chain(self.t, host, cl, command, cid, netns, runtime=runtime, prev=prev,
                         extra_env=self.env(host), gw_data_dir=self.gw_data_dir(host))

    # --- kernel state --------------------------------------------------------------------------------
    def ipj(self, ns, *args):
        out = self.t.run(ns, "ip", "-j", *args, check=False).stdout.strip()
        return json.loads(out) if out else []

    def v6_settled(self, host, timeout=5.0):
        """Waits until the underlay's link-local address has finished DAD (about a second after the harness
        makes it; that adds a local route)."""
        deadline = time.monotonic() + timeout
        while self.t.run(host, "ip", "-6", "addr", "show", "dev", host.ifname, "tentative").stdout.strip():
            if time.monotonic() > deadline:
                raise AssertionError(f"IPv6 addresses of {host.name} still tentative")
            time.sleep(0.1)

    def v6_state(self, host):
        """IPv6 routes (without the counting-down "expires") and addresses of a host."""
        routes = sorted(json.dumps({k: v for k, v in r.items() if k != "expires"}, sort_keys=True)
                        for r in self.ipj(host, "-6", "route", "show", "table", "all"))
        addrs = sorted((a["ifname"], i["local"]) for a in self.ipj(host, "-6", "addr", "show")
                       for i in a.get("addr_info", []))
        return routes, addrs

    def addresses(self, host, dev):
        return [i["local"] for a in self.ipj(host, "addr", "show", "dev", dev) for i in a.get("addr_info", [])]

    def sysctl(self, host, dev, key):
        return self.t.run(host, "cat", f"/proc/sys/net/ipv6/conf/{dev}/{key}").stdout.strip()

    def set_sysctl(self, host, dev, key, value):
        self.t.run(host, "sh", "-c", f"echo {value} > /proc/sys/net/ipv6/conf/{dev}/{key}")

    def bridge_ports(self, host, bridge):
        return [l["ifname"] for l in self.ipj(host, "link", "show", "master", bridge)]

    def start_watcher(self, host, name=None):
        log = open(os.path.join(self.t.tmpdir, f"watch-{name or host.name}.log"), "w")
        p = self.t.popen(host, find_binary("overlay"), "watch", env=self.env(host), stdout=log, stderr=log)
        log.close()
        return p

    # --- the VXLAN allow-list (table inet ovl_vxlan) -------------------------------------------------
    def allow_table(self, host):
        """The items of `nft -j list table inet ovl_vxlan`; [] when the table does not exist."""
        p = self.t.run(host, "nft", "-j", "list", "table", "inet", "ovl_vxlan", check=False)
        if p.returncode != 0:
            if "No such file" not in p.stderr:
                raise AssertionError(f"nft list table inet ovl_vxlan on {host.name}: {p.stderr}")
            return []
        return json.loads(p.stdout)["nftables"]

    def allow_pairs(self, host):
        """{(VTEP, VNI)} of both allow sets, without the health mesh's (its reserved VNI, test_health)."""
        out = set()
        for item in self.allow_table(host):
            s = item.get("set", {})
            if s.get("name") in ("allow4", "allow6"):
                out |= {tuple(e["concat"]) for e in s.get("elem", []) if e["concat"][1] != HEALTH_VNI}
        return out

    def allow_drops(self, host):
        """Packets counted by the dropping rules; None when the allow-list is not enforced."""
        rules = [i["rule"] for i in self.allow_table(host) if "rule" in i]
        if not rules:
            return None
        return sum(x["counter"]["packets"] for r in rules for x in r["expr"] if "counter" in x)


E = None


def setUpModule():
    global E
    for b in ("overlay", "overlay-ipam", "gwbridge"):
        find_binary(b)
    E = Env()


def tearDownModule():
    if E:
        E.close()


class HostileTest(unittest.TestCase):
    maxDiff = None

    def attach(self, host, name, cl=None, runtime=None):
        """A container with the chain added; DEL'd at cleanup. Returns (cid, netns, result)."""
        cl = cl or E.conflist()
        netns = E.t.add_container(host, name)
        cid = f"{name}-{E.t.prefix}"
        res = E.chain(host, "ADD", cl, cid, netns, runtime=runtime)
        self.addCleanup(E.chain, host, "DEL", cl, cid, "", prev=res)
        return cid, netns, res

    @staticmethod
    def in_container(res):
        return [i["name"] for i in res["interfaces"] if i.get("sandbox")]

    @staticmethod
    def host_devices(res):
        return [i["name"] for i in res["interfaces"] if not i.get("sandbox")]

    # --- item 1: a container's router advertisement -------------------------------------------------
    def test_router_advertisement_from_a_container_changes_no_host(self):
        _, na, ra = self.attach(E.h1, "ra-a")
        _, nb, rb = self.attach(E.h2, "ra-b")
        bridge = ra["interfaces"][0]["name"]
        self.assertTrue(bridge.startswith("ovbr-"), ra["interfaces"])
        vxlan = "ovx-" + bridge[len("ovbr-"):]
        # The overlay network is IPv4-only, so the plugin turned IPv6 off on the containers' links; a hostile
        # container turns it on again in its own namespace (the victim too, so that it can show the RA arrived).
        for ns, res in ((na, ra), (nb, rb)):
            for ifname in self.in_container(res):
                E.t.run(ns, "sysctl", "-qw", f"net.ipv6.conf.{ifname}.disable_ipv6=0")
        for ns, ifname in [(na, i) for i in self.in_container(ra)] + [(nb, "eth0")]:
            deadline = time.monotonic() + scaled(5)
            while not E.t.run(ns, "ip", "-6", "addr", "show", "dev", ifname, "scope", "link").stdout.strip() or \
                    E.t.run(ns, "ip", "-6", "addr", "show", "dev", ifname, "tentative").stdout.strip():
                self.assertLess(time.monotonic(), deadline, f"no usable link-local address on {ifname}")
                time.sleep(0.1)
        for h in E.hosts:
            E.v6_settled(h)
        before = {h.name: E.v6_state(h) for h in E.hosts}
        b_before = E.ipj(nb, "-6", "route", "show", "default")
        for ifname in self.in_container(ra):  # the overlay interface and the gateway bridge's
            E.t.run(na, PY, E.ra_py, ifname, 5)
        time.sleep(1.0)
        # The advertisement did cross the overlay: container b (IPv6 defaults) took it.
        self.assertNotEqual(E.ipj(nb, "-6", "route", "show", "default"), b_before,
                            "the router advertisement never reached the other host's container")
        problems = []  # every host's, so a failure shows the cross-host reach
        for h in E.hosts:
            routes, addrs = E.v6_state(h)
            problems += [f"{h.name}: new route {r}" for r in set(routes) - set(before[h.name][0])]
            problems += [f"{h.name}: new address {a}" for a in set(addrs) - set(before[h.name][1])]
            problems += [f"{h.name}: address {a} on {dev}" for dev in (bridge, vxlan) for a in E.addresses(h, dev)]
        self.assertEqual(problems, [])
        for h in E.hosts:
            self.assertEqual(E.ipj(h, "-6", "route", "show", "default"), [], f"{h.name} has an IPv6 default route")
        # Host ends of the veths and the gateway bridge: no IPv6 address at all.
        for dev in self.host_devices(ra)[1:] + E.bridge_ports(E.h1, bridge):
            self.assertEqual([a for a in E.addresses(E.h1, dev) if ":" in a], [], f"{dev} has an IPv6 address")

    def test_devices_of_an_older_version_are_fixed_on_the_next_add(self):
        _, na, ra = self.attach(E.h1, "old-a")
        bridge, gwbridge = ra["interfaces"][0]["name"], "cni_gwbridge"
        ports = E.bridge_ports(E.h1, bridge) + E.bridge_ports(E.h1, gwbridge)
        # What an older version left: kernel defaults, and a link-local address from a link flap.
        for dev in [bridge, gwbridge] + ports:
            E.set_sysctl(E.h1, dev, "disable_ipv6", 0)
            E.set_sysctl(E.h1, dev, "addr_gen_mode", 0)
            E.set_sysctl(E.h1, dev, "accept_ra", 1)
            E.t.run(E.h1, "ip", "link", "set", dev, "down")
            E.t.run(E.h1, "ip", "link", "set", dev, "up")
        deadline = time.monotonic() + scaled(3)
        while not any(a.startswith("fe80") for a in E.addresses(E.h1, bridge)):
            self.assertLess(time.monotonic(), deadline, "no link-local address appeared on the flapped bridge")
            time.sleep(0.1)
        _, _, rb = self.attach(E.h1, "old-b")
        for dev in [bridge, gwbridge] + ports:
            self.assertEqual([a for a in E.addresses(E.h1, dev) if ":" in a], [], f"{dev} kept an IPv6 address")
            self.assertEqual(E.sysctl(E.h1, dev, "accept_ra"), "0", dev)
            self.assertEqual(E.sysctl(E.h1, dev, "addr_gen_mode"), "1", dev)
        for dev in [bridge] + E.bridge_ports(E.h1, bridge):
            self.assertEqual(E.sysctl(E.h1, dev, "disable_ipv6"), "1", dev)
        # Containers keep working across the fix.
        self.assertTrue(E.t.ping(na, rb["ips"][0]["address"].split("/")[0], count=1, timeout=2))

    # --- item 2: a network config aimed at a stranger -------------------------------------------------
    def secrets(self):
        """A node config with a token (node store: the real Consul), a root-only file holding another
        secret, and a third secret in the runtime's environment."""
        tag = uuid.uuid4().hex[:8]
        s = {"node": f"NODE-SECRET-{tag}", "file": f"FILE-SECRET-{tag}", "env": f"ENV-SECRET-{tag}"}
        node = E.write_node_config(E.h1, {"consul": {"token": s["node"]}}, name=f"node-token-{tag}.json")
        path = os.path.join(E.t.tmpdir, f"secret-{tag}")
        with open(path, "w") as f:
            f.write(s["file"] + "\n")
        os.chmod(path, 0o600)
        return s, node, path

    def call(self, binary, conf, node, env_token, name):
        netns = E.t.add_container(E.h1, name)
        env = {"OVL_NODE_CONFIG": node, "CONSUL_HTTP_TOKEN": env_token}
        rc, res, out, err = run_plugin(E.t, E.h1, binary, "ADD", conf, f"{name}-{E.t.prefix}", netns, "eth0",
                                       extra_env=env, timeout=90)
        if rc == 0:
            run_plugin(E.t, E.h1, binary, "DEL", conf, f"{name}-{E.t.prefix}", "", "eth0", extra_env=env)
        return rc, res, out + err

    def test_network_config_aimed_at_a_listener_gets_no_credentials(self):
        s, node, secret_file = self.secrets()
        before = len(E.heard())
        stranger = f"consul://{LISTENER_IP}:8500"
        ipam = {"type": "overlay-ipam", "subnet": "10.78.0.0/24", "store": "consul"}
        cases = {
            "store": ("overlay", {"store": stranger, "ipam": ipam}, "'store'"),
            "consul.addresses": ("overlay", {"consul": {"addresses": [stranger]}, "ipam": ipam}, "consul.addresses"),
            "ipam.store": ("overlay-ipam", {"ipam": dict(ipam, store=stranger)}, "'ipam.store'"),
            "consul.tokenFile": ("overlay", {"consul": {"tokenFile": secret_file}, "ipam": ipam}, "consul.tokenFile"),
            "ipam.consul.tokenFile": ("overlay-ipam", {"ipam": dict(ipam, store=stranger,
                                                                    consul={"tokenFile": secret_file})},
                                      "ipam.consul.tokenFile"),
        }
        for n, (case, (binary, extra, field)) in enumerate(cases.items()):
            with self.subTest(case=case):
                conf = dict({"cniVersion": "1.0.0", "name": "stranger", "type": binary}, **extra)
                rc, res, out = self.call(binary, conf, node, s["env"], f"cred{n}")
                self.assertEqual((rc, (res or {}).get("code")), (1, 7), out)
                self.assertIn(field, res["msg"])
                for secret in s.values():
                    self.assertNotIn(secret, out)
        heard = E.heard()[before:]
        for what, secret in s.items():
            self.assertNotIn(secret, heard, f"the listener received the {what} secret")
        self.assertEqual(heard, "", "the listener was contacted at all")

    def test_without_a_node_store_a_stranger_gets_no_node_credentials(self):
        # Legacy layout: the node config names no store, every network config its own. The store is used,
        # but neither the node config's token nor the runtime's CONSUL_HTTP_TOKEN goes with it.
        s, _, _ = self.secrets()
        node = E.write_node_config(E.h1, {"store": None, "consul": {"token": s["node"]}}, name="node-nostore.json")
        conf = {"cniVersion": "1.0.0", "name": "stranger2", "type": "overlay-ipam",
                "ipam": {"type": "overlay-ipam", "subnet": "10.79.0.0/24", "store": f"consul://{LISTENER_IP}:8500"}}
        before = len(E.heard())
        self.call("overlay-ipam", conf, node, s["env"], "cred-legacy")
        heard = E.heard()[before:]
        self.assertIn("/v1/", heard, "the plugin never talked to the listener (the test would prove nothing)")
        for what, secret in s.items():
            self.assertNotIn(secret, heard, f"the listener received the {what} secret")
        self.assertNotIn("x-consul-token", heard.lower())

    # --- item 3: publishing a port resets nobody else's connections ---------------------------------
    def test_outbound_connection_to_443_survives_publishing_443(self):
        cl = E.conflist(ports=True)
        c1, n1, r1 = self.attach(E.h1, "ct-out", cl)
        tmp = E.t.tmpdir
        ready, trigger, out = (os.path.join(tmp, f"ct-{x}") for x in ("ready", "trigger", "client.out"))
        E.t.popen(E.inet, PY, E.speak_py, ready, trigger)
        E.wait_file(ready, "the :443 server start")
        with open(out, "w") as f:
            client = E.t.popen(n1, PY, E.client_py, "203.0.113.1", 443, 30, stdout=f)
        E.wait_file(ready + ".accepted", "the outbound connection")
        # Two flows from h2 towards h1's own :443, where a host service listens: TCP and UDP.
        E.t.popen(E.h1, PY, "-c", "import socket,time\ns=socket.socket()\ns.bind(('0.0.0.0',443))\ns.listen()\n"
                  "c=s.accept()\ntime.sleep(60)\n")
        E.t.popen(E.h2, PY, "-c", "import socket,time\nu=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                  f"u.sendto(b'x',('{E.h1.ip}',443))\n"
                  f"for i in range(50):\n try: c=socket.create_connection(('{E.h1.ip}',443)); break\n"
                  " except OSError: time.sleep(0.1)\ntime.sleep(60)\n")
        to_h1 = f"src={E.h2.ip} dst={E.h1.ip}"

        def flows():
            out = E.t.run(E.h1, "conntrack", "-L", check=False).stdout.splitlines()
            return {"out": any(l.startswith("tcp") and "dst=203.0.113.1" in l and "dport=443" in l for l in out),
                    "tcp": any(l.startswith("tcp") and to_h1 in l and "dport=443" in l for l in out),
                    "udp": any(l.startswith("udp") and to_h1 in l and "dport=443" in l for l in out)}
        deadline = time.monotonic() + scaled(10)
        while flows() != {"out": True, "tcp": True, "udp": True}:
            self.assertLess(time.monotonic(), deadline, f"flows not all there: {flows()}")
            time.sleep(0.1)
        # Another container publishes :443/tcp on the same host (ADD flushes conntrack entries for it).
        self.attach(E.h1, "ct-pub", cl, runtime={"portMappings": [{"hostPort": 443, "containerPort": 80,
                                                                 "protocol": "tcp"}]})
        after = flows()
        open(trigger, "w").close()
        client.wait(timeout=40)
        with open(out) as f:
            self.assertEqual(f.read().strip(), "spoken-after-add",
                             "the masqueraded outbound :443 connection was broken by publishing :443")
        # Exactly the mapping's entries went: TCP to this host's :443; not UDP, not the outbound flow.
        self.assertEqual(after, {"out": True, "tcp": False, "udp": True})
        # DEL removes the container's own entries (its address is the original source).
        gw_ip = r1["ips"][-1]["address"].split("/")[0]
        self.assertIn(f"src={gw_ip} ", E.t.run(E.h1, "conntrack", "-L", check=False).stdout)
        E.chain(E.h1, "DEL", cl, c1, "", prev=r1)
        self.assertNotIn(f"src={gw_ip} ", E.t.run(E.h1, "conntrack", "-L", check=False).stdout)

    # --- item 4: forwarding with a filter ------------------------------------------------------------
    @staticmethod
    def gw_address(res):
        """The container's address on the gateway bridge (gwbridge's is the last in the result)."""
        return res["ips"][-1]["address"].split("/")[0]

    def test_underlay_neighbour_reaches_published_ports_only(self):
        cl = E.conflist(ports=True)
        _, netns, res = self.attach(E.h1, "fwd-pub", cl, runtime={"portMappings": [
            {"hostPort": 8480, "containerPort": 80, "protocol": "tcp"}]})
        cip = self.gw_address(res)
        E.serve(netns, "fwdpub", "tcp:80", "tcp:81")
        E.serve(E.inet, "fwdinet", "tcp:7480")
        # A neighbour on the underlay that routes the gateway subnet through the node.
        E.t.run(E.nbr, "ip", "route", "replace", GW_SUBNET, "via", E.h1.ip)
        self.addCleanup(E.t.run, E.nbr, "ip", "route", "del", GW_SUBNET, check=False)
        # The published port answers, and the connection keeps the neighbour's address.
        self.assertEqual(E.try_connect(E.nbr, "tcp", E.h1.ip, 8480), f"fwdpub {E.nbr.ip}")
        # Unpublished: another port, and the published service's own port at the container's address.
        self.assertIsNone(E.try_connect(E.nbr, "tcp", cip, 81), "an unpublished port is reachable from the underlay")
        self.assertIsNone(E.try_connect(E.nbr, "tcp", cip, 80), "a container port is reachable around its mapping")
        # The container's own outbound connections still work (masqueraded to h1's address).
        self.assertEqual(E.try_connect(netns, "tcp", "203.0.113.1", 7480), f"fwdinet {E.h1.ip}")
        # ... and so does the container reaching its own published port through the host (hairpin).
        self.assertEqual(E.try_connect(netns, "tcp", E.h1.ip, 8480), f"fwdpub {res['ips'][-1]['gateway']}")

    def test_icc_false_holds_when_sent_to_the_gateway_mac(self):
        # Container a resolves b's address to the gateway's MAC: its frames go to the host, which routes them
        # back into the bridge, past the bridge-family chain that enforces icc=false between ports. b's answer
        # does not matter (with icc=false the bridge drops it): b's log shows whom it heard.
        def pair(icc):
            # Networks on one bridge agree on icc: the icc=true one has its own bridge (and its default pool).
            gw = {"type": "gwbridge", "icc": icc}
            if icc:
                gw.update(bridge="gwicc", ipam={"type": "overlay-ipam", "subnet": "10.95.0.0/24", "pool": "gwicc",
                                                "store": "local"})
            cl = {"cniVersion": "1.0.0", "name": f"hostile-icc{int(icc)}", "plugins": [gw]}
            _, na, ra = self.attach(E.h1, f"icc{int(icc)}-a", cl)
            _, nb, rb = self.attach(E.h1, f"icc{int(icc)}-b", cl)
            log = E.serve(nb, f"icc{int(icc)}-b", "udp:5400")
            return na, ra, self.gw_address(rb), log

        def heard(sender, res, b_ip, log):
            gw_mac = next(i["mac"] for i in res["interfaces"] if i["name"] in ("cni_gwbridge", "gwicc"))
            E.t.run(sender, "ip", "neigh", "replace", b_ip, "lladdr", gw_mac, "dev", "eth0", "nud", "permanent")
            E.try_connect(sender, "udp", b_ip, 5400, timeout=0.9)
            with open(log) as f:
                return f"{self.gw_address(res)} hi" in f.read()

        na0, ra0, b0_ip, log0 = pair(False)
        self.assertFalse(heard(na0, ra0, b0_ip, log0), "icc=false: a reached b through the gateway's MAC")
        # An icc=true network (its own bridge): its containers talk through the host, but not to b above.
        na1, ra1, b1_ip, log1 = pair(True)
        self.assertTrue(heard(na1, ra1, b1_ip, log1), "icc=true: a did not reach b through the host")
        self.assertFalse(heard(na1, ra1, b0_ip, log0), "an icc=true container reached an icc=false one")

    # --- item 7: a runtime's bad input does not block cleanup ---------------------------------------
    def test_del_with_an_invalid_runtime_mac_still_cleans_up(self):
        conf = {"cniVersion": "1.0.0", "name": NET, "type": "overlay", "capabilities": {"mac": True},
                "ipam": {"type": "overlay-ipam", "subnet": SUBNET, "store": "consul"}}
        netns = E.t.add_container(E.h1, "badmac")
        cid = f"badmac-{E.t.prefix}"
        rc, res, out, err = run_plugin(E.t, E.h1, "overlay", "ADD", conf, cid, netns, "eth0", extra_env=E.env(E.h1))
        self.assertEqual(rc, 0, out + err)
        self.addCleanup(run_plugin, E.t, E.h1, "overlay", "DEL", conf, cid, "", "eth0", extra_env=E.env(E.h1))
        host_veth = res["interfaces"][1]["name"]
        bad = dict(conf, runtimeConfig={"mac": "not-a-mac"})
        rc, res, out, err = run_plugin(E.t, E.h1, "overlay", "ADD", bad, cid + "x", netns, "eth1", extra_env=E.env(E.h1))
        self.assertEqual((rc, res["code"]), (1, 7), out)  # ADD still refuses it
        rc, _, out, err = run_plugin(E.t, E.h1, "overlay", "DEL", bad, cid, "", "eth0", extra_env=E.env(E.h1))
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn(host_veth, [l["ifname"] for l in E.ipj(E.h1, "link", "show")])
        self.assertEqual(E.consul.kv_keys(f"overlay-cni/ipam/{NET}/owners/{cid}"), [])

    # --- item 5: VXLAN is accepted only from member VTEPs of the packet's VNI -----------------------
    def stranger(self):
        """A host on the underlay that is not (yet) a member of any network: no watcher, a node config."""
        h3 = E.t.hosts.get("h3") or E.t.add_host("h3", f"{STRANGER_IP}/24")
        E.node_cfg.setdefault(h3.name, E.write_node_config(h3, {}))
        return h3

    def test_vxlan_from_a_non_member_is_dropped_until_it_joins(self):
        cl = E.conflist(gwbridge=False)
        _, na, ra = self.attach(E.h1, "vx-a", cl)
        _, nb, rb = self.attach(E.h2, "vx-b", cl)
        vni = int(ra["interfaces"][0]["name"][len("ovbr-"):])
        ip_a, ip_b = (r["ips"][0]["address"].split("/")[0] for r in (ra, rb))
        h1, h2, h3 = E.h1, E.h2, self.stranger()
        # The watchers enforce, and each member admits exactly the other for this VNI.
        for h, other in ((h1, h2), (h2, h1)):
            wait_for(lambda: E.allow_drops(h) is not None, 10, f"the allow-list enforced on {h.name}")
            wait_for(lambda: E.allow_pairs(h) == {(other.ip, vni)}, 10,
                     f"{h.name}'s allow-list to hold exactly {other.ip} . {vni}: {E.allow_pairs(h)}")
        self.assertTrue(E.t.ping(na, ip_b, count=3), "members of the network do not reach each other")

        # The stranger builds the network's VXLAN device by hand and aims its broadcasts at h1's VTEP.
        E.t.run(h3, "ip", "link", "add", "intruder", "type", "vxlan", "id", vni, "local", STRANGER_IP,
                "dstport", 4789, "dev", "eth0")
        self.addCleanup(E.t.run, h3, "ip", "link", "del", "intruder", check=False)
        E.t.run(h3, "ip", "addr", "add", f"{INTRUDER_IP}/24", "dev", "intruder")
        E.t.run(h3, "ip", "link", "set", "intruder", "up")
        E.t.run(h3, "bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "intruder", "dst", h1.ip)
        drops = E.allow_drops(h1)
        self.assertFalse(E.t.ping(h3, ip_a, count=3, timeout=1), "the stranger reached a container over VXLAN")
        self.assertGreater(E.allow_drops(h1), drops, "h1 dropped none of the stranger's VXLAN packets")
        self.assertEqual(E.ipj(na, "neigh", "show", INTRUDER_IP), [], "the stranger's ARP reached the container")
        self.assertEqual(E.allow_pairs(h3), set(), "a host that never joined has allow-list entries")
        E.t.run(h3, "ip", "link", "del", "intruder")

        # A real ADD makes it a member: the watchers admit it, and its container reaches both others.
        _, nc, rc = self.attach(h3, "vx-c", cl)
        ping_c = lambda: E.t.ping(nc, ip_a, timeout=1) and E.t.ping(nc, ip_b, timeout=1)
        wait_for(ping_c, 10, "the new member's container to reach the others")
        for h, others in ((h1, (h2, h3)), (h2, (h1, h3)), (h3, (h1, h2))):
            wait_for(lambda: E.allow_pairs(h) == {(o.ip, vni) for o in others}, 10,
                     f"{h.name}'s allow-list to hold the other members: {E.allow_pairs(h)}")
        # Without a watcher, h3 keeps the pairs its ADD read but drops nothing: no one would admit a new member.
        self.assertIsNone(E.allow_drops(h3), "a host without a watcher enforces the allow-list")
        self.assertFalse(any(c.get("chain", {}).get("name") == "input" for c in E.allow_table(h3)))
        # A watcher enforces while it runs and stops at its exit; the pairs stay for the next one.
        w = E.start_watcher(h3, "h3-vx")
        wait_for(lambda: E.allow_drops(h3) is not None, 10, "h3's watcher to enforce")
        self.assertTrue(ping_c(), "the enforcing member h3 does not hear the others")
        w.terminate()
        self.assertEqual(w.wait(timeout=15), 0)
        self.assertIsNone(E.allow_drops(h3), "the watcher left the dropping chain at its exit")
        self.assertEqual(E.allow_pairs(h3), {(h1.ip, vni), (h2.ip, vni)})

        # DEL of everything on h3 removes its pairs; the watchers remove it from the others'.
        E.chain(h3, "DEL", cl, f"vx-c-{E.t.prefix}", "", prev=rc)
        self.assertEqual(E.allow_pairs(h3), set())
        for h, other in ((h1, h2), (h2, h1)):
            wait_for(lambda: E.allow_pairs(h) == {(other.ip, vni)}, 10, f"{h.name} to forget the departed member")


if __name__ == "__main__":
    unittest.main()
