"""End-to-end: one MTU per network (issue 19). Hosts h1 and h2 have underlay MTU 1500, h3 1400.

A network first joined by a 1500-byte host runs at 1450: h3 (at most 1350) is refused with an error that
names it and the figures, and keeps nothing of the attempt. A network first joined by h3 runs at 1350 on
every host, so the largest packet one container may send crosses to every other: before this, h1's
containers got 1450 and their large packets to h3 vanished without an error.
"""

import json
import unittest

from ovltest.faults import container_links, our_links
from ovltest.plugins import find_binary, run_plugin
from rtlib import PREFIX, RtCluster

INVALID_CONFIG = 7


def conf(net, subnet, **extra):
    return dict({"cniVersion": "1.0.0", "name": net, "type": "overlay",
                 "ipam": {"type": "overlay-ipam", "subnet": subnet, "store": "consul"}}, **extra)


class OneMtuPerNetwork(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = RtCluster(nhosts=3, mtu=1500)
        cls.addClassCleanup(cls.c.t.cleanup)
        cls.t, (cls.h1, cls.h2, cls.h3) = cls.c.t, cls.c.hosts
        cls.t.run(cls.h3, "ip", "link", "set", "eth0", "mtu", "1400")

    def call(self, host, command, c, cid, netns=""):
        return run_plugin(self.t, host, "overlay", command, c, cid, netns, "eth0", extra_env=self.c.env(host))

    def attach(self, host, c, cid):
        netns = self.t.add_container(host, cid)
        rc, res, out, err = self.call(host, "ADD", c, cid, netns)
        self.assertEqual(rc, 0, out + err[-1500:])
        self.addCleanup(self.call, host, "DEL", c, cid)
        return netns, res

    def mtu_of(self, netns):
        return json.loads(self.t.run(netns, "ip", "-j", "link", "show", "dev", "eth0").stdout)[0]["mtu"]

    def member(self, net, host):
        return json.loads(self.c.consul.kv_get(f"{PREFIX}/networks/{net}/members/{host.name}"))

    def test_a_host_that_cannot_carry_the_network_is_refused_and_keeps_nothing(self):
        c = conf("mtu-big", "10.70.0.0/24")
        n1, _ = self.attach(self.h1, c, "big1")
        self.attach(self.h2, c, "big2")
        self.assertEqual(self.mtu_of(n1), 1450)
        self.assertEqual({k: self.member("mtu-big", self.h1)[k] for k in ("mtu", "underlayMtu")},
                         {"mtu": 1450, "underlayMtu": 1500})
        links, leases = our_links(self.t, self.h3), self.c.consul.kv_keys(f"{PREFIX}/ipam/mtu-big/leases/")
        netns = self.t.add_container(self.h3, "big3")
        rc, err, out, _ = self.call(self.h3, "ADD", c, "big3", netns)
        self.assertEqual((rc, err and err["code"]), (1, INVALID_CONFIG), out)
        for part in ("host 'h3'", "eth0 has MTU 1400, at most 1350", "is 1450", "'mtu'"):
            self.assertIn(part, err["msg"])
        self.assertEqual(container_links(self.t, netns), [])
        self.assertEqual(our_links(self.t, self.h3), links)
        self.assertEqual(self.c.consul.kv_keys(f"{PREFIX}/ipam/mtu-big/leases/"), leases)
        self.assertIsNone(self.c.consul.kv_get(f"{PREFIX}/networks/mtu-big/members/h3"))
        # A configured MTU every member can carry lets it join.
        small = conf("mtu-big", "10.70.0.0/24", mtu=1350)
        rc, res, out, err = self.call(self.h3, "ADD", small, "big3", netns)
        self.assertEqual(rc, 0, out + err[-1500:])
        self.addCleanup(self.call, self.h3, "DEL", small, "big3")
        self.assertEqual(self.mtu_of(netns), 1350)
        # The network now has containers at 1450 (h1, h2) and 1350 (h3): diag on h1 says so, naming the
        # container; h3's container is at the network's recorded MTU (the smallest) and is not reported.
        for host, want in ((self.h1, ["big1"]), (self.h3, [])):
            p = self.t.run(host, find_binary("overlayctl"), "diag", "--json", env=self.c.env(host), check=False)
            found = [f for f in json.loads(p.stdout)["findings"] if f["kind"] == "mtu-mismatch"]
            self.assertEqual([("big1" if "big1" in f["meaning"] else f["meaning"]) for f in found], want, p.stdout)
            if found:
                self.assertIn("has MTU 1450 but the network's containers use 1350", found[0]["meaning"])

    def test_the_first_member_sets_the_mtu_and_the_largest_packet_crosses(self):
        c = conf("mtu-small", "10.71.0.0/24")
        n3, r3 = self.attach(self.h3, c, "small3")
        n1, r1 = self.attach(self.h1, c, "small1")
        self.assertEqual((self.mtu_of(n3), self.mtu_of(n1)), (1350, 1350))
        self.assertEqual(self.member("mtu-small", self.h1)["mtu"], 1350)
        ip1, ip3 = (r["ips"][0]["address"].split("/")[0] for r in (r1, r3))
        # 1350 - 28 bytes of IPv4 and ICMP headers, unfragmented, both ways.
        self.assertTrue(self.t.ping(n1, ip3, size=1322, df=True, count=2), "h1 -> h3 at the network's MTU")
        self.assertTrue(self.t.ping(n3, ip1, size=1322, df=True, count=2), "h3 -> h1 at the network's MTU")
        self.assertFalse(self.t.ping(n1, ip3, size=1323, df=True), "larger than the MTU must not be sent")
        # CHECK agrees: the container's MTU is the one recorded for the network on this host.
        rc, _, out, err = self.call(self.h1, "CHECK", dict(c, prevResult=r1), "small1", n1)
        self.assertEqual(rc, 0, out + err[-1500:])


if __name__ == "__main__":
    unittest.main()
