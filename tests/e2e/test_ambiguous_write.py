"""End-to-end: a write that Consul applied but answered as failed leaves nothing behind and hands out no address
twice (issue 14, item 7; the lease transaction that carries the overlay's records, issue 17).

That is what a client sees when the leader it wrote through replicates the write and dies before answering.
A proxy on the Consul host (ovltest/lying_proxy.py) applies the lease transaction that carries the
attachment record, then answers 500 "rpc error making call: EOF": once (the client's resend meets its own
first copy) or every time (the ADD fails and must take back what the first copy wrote).

Topology: Consul and the proxy on cs, one host h1 whose node config names the proxy, containers as namespaces.
"""

import json
import os
import unittest

from ovltest.consul import ConsulServer
from ovltest.faults import start_lying_proxy, wait_for
from ovltest.netns import Topology
from ovltest.plugins import run_plugin

PREFIX = "overlay-cni"
LEASE_TXN = "/leases/ /attachments/"  # the words of the lease transaction that carries overlay's records


def read(path):
    with open(path) as f:
        return f.read()


class AmbiguousWrite(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = t = Topology()
        t.start()
        try:
            cls.cs = t.add_host("cs", "198.51.100.10/24")
            cls.h1 = t.add_host("h1", "198.51.100.11/24")
            cls.consul = ConsulServer(t, cls.cs, "198.51.100.10")
            cls.mode, cls.proxy_out = start_lying_proxy(t, cls.cs, "198.51.100.10")
            cls.node = os.path.join(t.tmpdir, "node-h1.json")
            with open(cls.node, "w") as f:
                json.dump({"store": "consul://198.51.100.10:8501", "hostName": "h1", "advertise": "eth0",
                           "stateDir": os.path.join(t.tmpdir, "state"),
                           "consul": {"requestTimeoutMs": 3000}}, f)
            cls.conf = {"cniVersion": "1.0.0", "name": "amb", "type": "overlay",
                        "ipam": {"type": "overlay-ipam", "subnet": "10.77.5.0/24"}}
        except BaseException:
            t.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.t.cleanup()

    def setUp(self):
        self.set_mode(None)
        self.attached = []

    def tearDown(self):
        self.set_mode(None)
        for cid in reversed(self.attached):
            self.plugin("DEL", cid, "")
        self.assertEqual(self.ours(""), [], "keys left after DEL")
        self.assertEqual([n for n in self.links() if n.startswith(("ovv", "ovbr-", "ovx-"))], [], "links left")

    def set_mode(self, how):
        if how is None:
            if os.path.exists(self.mode):
                os.unlink(self.mode)
            return
        with open(self.mode, "w") as f:
            f.write(f"{how}\n{LEASE_TXN}\n")

    def lies(self):
        return read(self.proxy_out).count("lied ")

    def plugin(self, command, cid, netns, check=True):
        rc, res, out, err = run_plugin(self.t, self.h1, "overlay", command, self.conf, cid, netns, "eth0",
                                       extra_env={"OVL_NODE_CONFIG": self.node})
        if check and rc != 0:
            raise AssertionError(f"{command} {cid}: rc={rc} {out} {err[-2000:]}")
        return rc, res, err

    def add(self, name):
        cid = f"{name}-{self.t.prefix}"
        netns = self.t.add_container(self.h1, name)
        self.attached.append(cid)
        return cid, netns

    def links(self):
        return [l["ifname"] for l in json.loads(self.t.run(self.h1, "ip", "-j", "link", "show").stdout)]

    def ours(self, cid):
        """Attachment, lease and owner keys that name the container (every one of ours when cid is "")."""
        keys = []
        for k in self.consul.kv_keys(f"{PREFIX}/"):
            if "/attachments/" in k or "/owners/" in k:
                if cid in k:
                    keys.append(k)
            elif "/leases/" in k:
                if cid in (self.consul.kv_get(k) or ""):
                    keys.append(k)
        return sorted(keys)

    def test_1_an_answer_lost_once_is_ridden_out(self):
        c0, n0 = self.add("amb0")
        self.plugin("ADD", c0, n0)  # defines the network and claims the host's name: the next ADD is the fast one
        c1, n1 = self.add("amb1")
        self.set_mode("once")
        _, res, _ = self.plugin("ADD", c1, n1)
        self.assertEqual(self.lies(), 1, "the proxy never saw the lease transaction with the records")
        ip = res["ips"][0]["address"]
        rec = json.loads(self.consul.kv_get(f"{PREFIX}/attachments/amb/h1/{c1}/eth0"))
        self.assertEqual(rec["ips"], [ip])
        leases = [k for k in self.ours(c1) if "/leases/" in k]
        self.assertEqual(leases, [f"{PREFIX}/ipam/amb/leases/{ip.split('/')[0]}"], "one lease, the one returned")

    def test_2_an_add_that_fails_after_its_write_was_applied_takes_it_back(self):
        before = self.lies()
        c0, n0 = self.add("amb2")
        self.plugin("ADD", c0, n0)
        c2, n2 = self.add("amb3")
        self.set_mode("always")
        rc, res, err = self.plugin("ADD", c2, n2, check=False)
        self.set_mode(None)
        self.assertNotEqual(rc, 0, err[-1500:])
        self.assertEqual(res["code"], 11, res)
        self.assertGreater(self.lies(), before, "the proxy never saw the lease transaction with the records")
        self.assertEqual(self.ours(c2), [], "the failed ADD left records or leases")
        self.assertEqual(len([n for n in self.links() if n.startswith("ovv")]), 1, "the failed ADD left a link")
        self.assertIsNotNone(self.consul.kv_get(f"{PREFIX}/networks/amb/members/h1"), "the other container's member")


if __name__ == "__main__":
    unittest.main()
