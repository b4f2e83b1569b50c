"""End-to-end: CHECK notices drift (issue 15, item 3). One attachment per plugin, then a table: each row breaks
exactly one thing CHECK verifies (plugins/overlay/check.cpp, plugins/gwbridge/check.cpp) with `ip`, `nft`, a
sysctl, a file move or a Consul write, runs CHECK, asserts the CNI error code and that the message names
the culprit, repairs, and asserts that CHECK passes again.

Topology: Consul on cs, one host h1 (underlay MTU 1400, so the overlay's MTU is 1350), containers as
network namespaces. The overlay uses overlay-ipam with the Consul store; gwbridge its usual pool
(172.18.0.0/16) in a file store under the test's directory.
"""

import copy
import json
import shutil
import time
import unittest

from ovltest.drift import (Drift, ip, recreate_vxlan, rename_away, rename_back, restore_routes, run_drift,
                           vxlan_snapshot)
from ovltest.faults import container_keys, lease_files, nft_comments, nft_rules, our_links
from ovltest.netns import ns_name
from ovltest.plugins import run_plugin
from rtlib import PREFIX, RtCluster, gwbridge_plugin

INVALID_CONFIG = 7  # what the spec calls "invalid network config": CHECK without a usable prevResult
DECODE = 6          # a record in the store that cannot be read
FOUND_DRIFT = 100   # Code::Internal: every difference CHECK finds between ADD's work and the host now
GW = "cni_gwbridge"


def with_prev(conf, prev):
    c = dict(conf)
    if prev is not None:
        c["prevResult"] = prev
    return c


def drop_default_route(prev):
    prev["routes"] = [r for r in prev["routes"] if r["dst"] != "0.0.0.0/0"]
    return prev


def rename_sandbox_if(prev):
    prev["interfaces"][2]["name"] = "eth7"
    return prev


def drop_ips(prev):
    prev["ips"] = []
    return prev


def ips_on_bridge(prev):
    for i in prev["ips"]:
        i["interface"] = 0
    return prev


class CheckDrift(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = RtCluster(nhosts=1)
        cls.t, cls.h = cls.c.t, cls.c.hosts[0]

    @classmethod
    def tearDownClass(cls):
        cls.c.cleanup()

    def setUp(self):
        self.started = time.monotonic()

    def plugin(self, binary, command, conf, cid, netns, prev=None):
        return run_plugin(self.t, self.h, binary, command, with_prev(conf, prev), cid, netns, "eth0",
                          extra_env=self.c.env(self.h))

    def attach(self, binary, conf, cid):
        netns = self.t.add_container(self.h, cid)
        rc, res, out, err = self.plugin(binary, "ADD", conf, cid, netns)
        self.assertEqual(rc, 0, out + err[-2000:])
        self.addCleanup(self.detach, binary, conf, cid, netns, res)
        return netns, res

    def detach(self, binary, conf, cid, netns, res):
        rc, _, out, err = self.plugin(binary, "DEL", conf, cid, netns, prev=res)
        self.assertEqual(rc, 0, out + err[-2000:])
        self.assertEqual(our_links(self.t, self.h), [], "links left after DEL")
        self.assertEqual(container_keys(self.c.consul), [], "keys left after DEL")
        self.assertEqual(lease_files(self.c.lease_dir(self.h)), [], "lease files left after DEL")
        self.assertEqual([c for c in nft_comments(self.t, self.h) if cid in c], [], "rules left after DEL")

    def prober(self, binary, conf, cid, netns, res):
        """probe(row) for run_drift: CHECK with the row's prevResult (the ADD result by default)."""
        def probe(row):
            prev = copy.deepcopy(res)
            if row is not None and row.prev is not Drift.KEEP:
                prev = row.prev(prev)
            rc, err, out, log = self.plugin(binary, "CHECK", conf, cid, netns, prev=prev)
            if rc == 0:
                return True, None, ""
            self.assertIsNotNone(err, f"CHECK failed without error JSON: {out} {log[-1000:]}")
            return False, err.get("code"), err.get("msg", "")
        return probe

    def renamed(self, ns, name, temp):
        """(break, repair): the link `name` in ns renamed to `temp` (gone, to whoever looks for it), and back."""
        return (lambda: rename_away(self.t, ns, name, temp)), (lambda: rename_back(self.t, ns, temp, name))

    def report(self, what, passed):
        print(f"\n  {what}: {len(passed)} breaks noticed, named and repaired "
              f"({time.monotonic() - self.started:.1f} s)")

    # ---------------------------------------------------------------------------------------------------------
    def test_overlay(self):
        t, h, kv = self.t, self.h, self.c.consul
        conf = {"cniVersion": "1.0.0", "name": "drift", "type": "overlay",
                "ipam": {"type": "overlay-ipam", "subnet": "10.40.0.0/24", "routes": [{"dst": "10.41.0.0/16"}]}}
        netns, res = self.attach("overlay", conf, "od1")
        vni = json.loads(kv.kv_get(f"{PREFIX}/networks/drift/config"))["vni"]
        vx, br, veth = f"ovx-{vni}", f"ovbr-{vni}", res["interfaces"][1]["name"]
        addr, mac = res["ips"][0]["address"], res["interfaces"][2]["mac"]
        snap = vxlan_snapshot(t, h, vx)
        keys = {"config": f"{PREFIX}/networks/drift/config", "member": f"{PREFIX}/networks/drift/members/h1",
                "lease": f"{PREFIX}/ipam/drift/leases/{addr.split('/')[0]}"}
        saved = {k: kv.kv_get(p) for k, p in keys.items()}

        def put(k, value):
            return lambda: kv.kv_put(keys[k], value)

        def forget(k):
            return lambda: kv.kv_delete(keys[k])

        def restore(k):
            return put(k, saved[k])

        def fake_vxlan(**override):
            return lambda: recreate_vxlan(t, h, snap, **override)

        def real_vxlan():
            recreate_vxlan(t, h, snap)

        def inside(*argv):
            return lambda: ip(t, netns, *argv)

        def eth0_back():
            rename_back(t, netns, "eth9", "eth0")
            restore_routes(t, netns, "eth0", res)

        def address_back():
            ip(t, netns, "addr", "add", addr, "dev", "eth0")
            restore_routes(t, netns, "eth0", res)

        def allow_list_cut():
            # Another member, and an enforcing allow-list (as a running watcher installs it) that allows no VTEP
            # for the VNI: VXLAN from that member would be dropped.
            kv.kv_put(f"{PREFIX}/networks/drift/members/h9",
                      json.dumps(dict(json.loads(saved["member"]), host="h9", vtep="198.51.100.99")))
            t.run(h, "nft", "add table inet ovl_vxlan")
            t.run(h, "nft", "add chain inet ovl_vxlan input { type filter hook input priority filter; policy accept; }")

        def allow_list_back():
            t.run(h, "nft", "delete chain inet ovl_vxlan input")
            kv.kv_delete(f"{PREFIX}/networks/drift/members/h9")

        renamed, nothing = self.renamed, (lambda: None)
        other_vtep = json.dumps(dict(json.loads(saved["member"]), vtep="198.51.100.99"))
        rows = [
            Drift("no prevResult", nothing, nothing, INVALID_CONFIG, "CHECK needs prevResult", prev=lambda p: None),
            Drift("prevResult names another interface", nothing, nothing, INVALID_CONFIG,
                  "prevResult has no interface 'eth0'", prev=rename_sandbox_if),
            Drift("lease gone from the store (IPAM CHECK)", forget("lease"), restore("lease"), FOUND_DRIFT,
                  f"lease {addr.split('/')[0]} of container od1 (eth0) is gone"),
            Drift("network record gone", forget("config"), restore("config"), FOUND_DRIFT,
                  "network 'drift' is not defined in the store"),
            Drift("network record unreadable", put("config", "{not json"), restore("config"), DECODE,
                  f"record {keys['config']}"),
            Drift("vxlan device missing", lambda: ip(t, h, "link", "del", vx), real_vxlan, FOUND_DRIFT,
                  f"vxlan device {vx} is missing"),
            Drift("vxlan device with another vni", fake_vxlan(id=vni + 1), real_vxlan, FOUND_DRIFT,
                  f"{vx} has vni {vni + 1}"),
            Drift("vxlan device on another port", fake_vxlan(port=4790), real_vxlan, FOUND_DRIFT,
                  f"{vx} uses port 4790"),
            Drift("vxlan device with another local address", fake_vxlan(local="198.51.100.99"), real_vxlan,
                  FOUND_DRIFT, f"{vx} has local address 198.51.100.99"),
            Drift("vxlan device mtu", lambda: ip(t, h, "link", "set", vx, "mtu", "1300"),
                  lambda: ip(t, h, "link", "set", vx, "mtu", "1350"), FOUND_DRIFT, f"{vx} has mtu 1300"),
            Drift("bridge missing", *renamed(h, br, "ovbrkept"), FOUND_DRIFT, f"bridge {br} is missing"),
            Drift("vxlan device not a port of the bridge", lambda: ip(t, h, "link", "set", vx, "nomaster"),
                  lambda: ip(t, h, "link", "set", vx, "master", br), FOUND_DRIFT, f"{vx} is not a port of {br}"),
            Drift("host veth missing", *renamed(h, veth, "ovvkept"), FOUND_DRIFT, f"host interface {veth} is missing"),
            Drift("host veth detached", lambda: ip(t, h, "link", "set", veth, "nomaster"),
                  lambda: ip(t, h, "link", "set", veth, "master", br), FOUND_DRIFT, f"{veth} is not a port of {br}"),
            Drift("host not a member in the store", forget("member"), restore("member"), FOUND_DRIFT,
                  "host 'h1' is not recorded as a member of 'drift'"),
            Drift("membership recorded with another VTEP", put("member", other_vtep), restore("member"), FOUND_DRIFT,
                  "host 'h1' is not recorded as a member of 'drift'"),
            Drift("container interface missing", renamed(netns, "eth0", "eth9")[0], eth0_back,
                  FOUND_DRIFT, f"interface eth0 is missing in {netns}"),
            Drift("container interface mtu", inside("link", "set", "eth0", "mtu", "1300"),
                  inside("link", "set", "eth0", "mtu", "1350"), FOUND_DRIFT, "eth0 has mtu 1300, want 1350"),
            Drift("container interface mac", inside("link", "set", "eth0", "address", "02:00:00:00:99:99"),
                  inside("link", "set", "eth0", "address", mac), FOUND_DRIFT, "eth0 has mac 02:00:00:00:99:99"),
            Drift("container address missing", inside("addr", "del", addr, "dev", "eth0"), address_back, FOUND_DRIFT,
                  f"eth0 lacks address {addr}"),
            Drift("container route missing", inside("route", "del", "10.41.0.0/16"),
                  lambda: restore_routes(t, netns, "eth0", res), FOUND_DRIFT,
                  f"route to 10.41.0.0/16 is missing in {netns}"),
            Drift("allow-list enforced without the network's other member", allow_list_cut, allow_list_back,
                  FOUND_DRIFT, f"is enforced but allows no VTEP for vni {vni}"),
        ]
        passed = run_drift(self, rows, self.prober("overlay", conf, "od1", netns, res))
        self.assertEqual(len(passed), len(rows))
        self.report("overlay CHECK", passed)

    def test_gwbridge(self):
        t, h = self.t, self.h
        conf = gwbridge_plugin(self.c.lease_dir(h))
        conf.pop("capabilities")
        conf.update({"cniVersion": "1.0.0", "name": "gwdrift"})
        conf["ipam"]["routes"] = [{"dst": "10.88.0.0/16"}]
        cid = f"gd1-{t.prefix}"
        netns, res = self.attach("gwbridge", conf, cid)
        park = t.add_container(h, "gdpark")
        veth, mac = res["interfaces"][1]["name"], res["interfaces"][2]["mac"]
        addr, gw = res["ips"][0]["address"], res["ips"][0]["gateway"]
        tag = f"ovl:gwdrift:{cid}:eth0"
        btag = f"ovl-br:{GW}"
        chain = f"br-{GW}"
        [lease] = lease_files(self.c.lease_dir(h))
        # No port mappings: nothing of the attachment's own in nftables, only the bridge's rules.
        self.assertEqual([r for r in nft_rules(t, h) if r.get("comment") == tag], [])
        ours = [r for r in nft_rules(t, h) if r.get("comment") == btag]
        self.assertGreater(len(ours), 0, "no rules tagged " + btag)
        taken = {k: v for k, v in ours[-1].items() if k != "handle"}

        def nft_json(verb, rule):
            t.run(h, "nft", "-j", "-f", "-", input=json.dumps({"nftables": [{verb: {"rule": rule}}]}))

        def nft(text):
            return lambda: t.run(h, "nft", "-f", "-", input=text)

        def handles():
            return {r["handle"] for r in nft_rules(t, h) if r.get("comment") == btag}

        before = handles()
        extra = dict(taken, expr=[{"counter": None}])

        def drop_extra():
            [handle] = handles() - before
            nft_json("delete", {"family": taken["family"], "table": taken["table"], "chain": taken["chain"],
                                "handle": handle})

        def readd_taken():
            nft_json("add", taken)
            before.clear()
            before.update(handles())

        forward = [{k: v for k, v in r.items() if k != "handle"} for r in nft_rules(t, h)
                   if r["family"] == "inet" and r["chain"] == chain]
        self.assertEqual(len(forward), 4, "the bridge's forward filter")

        def readd_forward():
            for r in forward:
                nft_json("add", r)

        cip = addr.split("/")[0]
        element = f'inet ovl_gwbridge ports4 {{ tcp . 9999 comment "{tag}" : {cip} . 99 }}'

        def inside(*argv):
            return lambda: ip(t, netns, *argv)

        def on_host(*argv):
            return lambda: ip(t, h, *argv)

        def configure_eth0():
            ip(t, netns, "link", "set", "eth0", "up")
            ip(t, netns, "addr", "replace", addr, "dev", "eth0")
            restore_routes(t, netns, "eth0", res)

        def eth0_back_from(where):
            def back():
                ip(t, where, "link", "set", "eth0", "netns", ns_name(netns))
                configure_eth0()
            return back

        def eth0_renamed():
            rename_away(t, netns, "eth0", "eth9")
            ip(t, netns, "link", "set", "eth9", "up")  # up, or CHECK stops at "down" first

        def eth0_renamed_back():
            rename_away(t, netns, "eth9", "eth0")
            configure_eth0()

        def sysctl(value):
            return lambda: t.run(h, "sysctl", "-qw", f"net.ipv4.ip_forward={value}")

        def remove_default_route():
            ip(t, netns, "route", "del", "default")

        def dummy_bridge():
            rename_away(t, h, GW, "gwkept")
            ip(t, h, "link", "add", GW, "type", "veth", "peer", "name", "gwfakepeer")

        def real_bridge():
            t.run(h, "ip", "link", "del", GW, check=False)  # with its peer; absent if the break failed half-way
            rename_back(t, h, "gwkept", GW)

        renamed, nothing = self.renamed, (lambda: None)
        group = json.loads(t.run(h, "ip", "-j", "-d", "link", "show", veth).stdout)[0]["group"]
        rows = [
            Drift("no prevResult", nothing, nothing, INVALID_CONFIG, "CHECK needs prevResult", prev=lambda p: None),
            Drift("lease file gone (IPAM CHECK)", lambda: shutil.move(lease, lease + ".kept"),
                  lambda: shutil.move(lease + ".kept", lease), 3, f"container {cid} (eth0) holds no lease"),
            Drift("bridge missing", *renamed(h, GW, "gwkept"), FOUND_DRIFT, f"bridge '{GW}' is missing"),
            Drift("a link that is not a bridge has the bridge's name", dummy_bridge, real_bridge, FOUND_DRIFT,
                  f"bridge '{GW}' is missing"),
            Drift("bridge down", on_host("link", "set", GW, "down"), on_host("link", "set", GW, "up"), FOUND_DRIFT,
                  f"bridge '{GW}' is down"),
            Drift("host veth missing", *renamed(h, veth, "gwbkept"), FOUND_DRIFT, f"veth '{veth}' is missing"),
            Drift("host veth detached", on_host("link", "set", veth, "nomaster"),
                  on_host("link", "set", veth, "master", GW), FOUND_DRIFT, f"veth '{veth}' is not a port of '{GW}'"),
            Drift("host veth out of the bridge's interface group (icc=false isolation)",
                  on_host("link", "set", veth, "group", "0"), on_host("link", "set", veth, "group", str(group)),
                  FOUND_DRIFT, f"veth '{veth}' is in interface group 0, not {group} of bridge '{GW}'"),
            Drift("container end moved out of the container",
                  inside("link", "set", "eth0", "netns", ns_name(park)),
                  eth0_back_from(park), FOUND_DRIFT, f"the container end of '{veth}' is missing"),
            Drift("container end down", inside("link", "set", "eth0", "down"), configure_eth0, FOUND_DRIFT,
                  "'eth0' is down in the container"),
            Drift("container end renamed", eth0_renamed, eth0_renamed_back,
                  FOUND_DRIFT, "prevResult has no interface 'eth9' in the container"),
            Drift("prevResult without our address (the IPAM's CHECK sees it first)", nothing, nothing,
                  INVALID_CONFIG, f"overlay-ipam: lease {addr.split('/')[0]} of container {cid} (eth0) is missing "
                  "from prevResult.ips", prev=drop_ips),
            Drift("prevResult puts our address on another interface", nothing, nothing, FOUND_DRIFT,
                  "prevResult has no address on 'eth0'", prev=ips_on_bridge),
            Drift("container end mac", inside("link", "set", "eth0", "address", "02:00:00:00:99:98"),
                  inside("link", "set", "eth0", "address", mac), FOUND_DRIFT,
                  f"'eth0' has MAC 02:00:00:00:99:98, prevResult says {mac}"),
            Drift("container address missing", inside("addr", "del", addr, "dev", "eth0"), configure_eth0, FOUND_DRIFT,
                  f"address {addr} is missing in the container"),
            Drift("gateway address missing on the bridge", on_host("addr", "del", f"{gw}/16", "dev", GW),
                  on_host("addr", "add", f"{gw}/16", "dev", GW), FOUND_DRIFT,
                  f"gateway {gw} is missing on the bridge"),
            Drift("route through the gateway missing", inside("route", "del", "10.88.0.0/16"), configure_eth0,
                  FOUND_DRIFT, f"route 10.88.0.0/16 via {gw} is missing in the container"),
            Drift("default route missing (prevResult lists it)", remove_default_route, configure_eth0, FOUND_DRIFT,
                  f"route 0.0.0.0/0 via {gw} is missing in the container"),
            Drift("default route missing (defaultRoute, not in prevResult)", remove_default_route, configure_eth0,
                  FOUND_DRIFT, f"the default route via {gw} is missing in the container", prev=drop_default_route),
            Drift("one of the bridge's rules deleted", lambda: nft_json("delete", ours[-1]), readd_taken,
                  FOUND_DRIFT, f"nftables rules of bridge '{GW}' differ"),
            Drift("the bridge's forward filter emptied", nft(f"flush chain inet ovl_gwbridge {chain}"), readd_forward,
                  FOUND_DRIFT, f"the forward filter of bridge '{GW}' (chain inet ovl_gwbridge {chain}) has 0 rules, "
                  "want 4"),
            Drift("a rule with the bridge's tag added", lambda: nft_json("add", extra), drop_extra, FOUND_DRIFT,
                  f"nftables rules of bridge '{GW}' differ"),
            Drift("the bridge's chain renamed", nft(f"rename chain inet ovl_gwbridge {chain} br-kept"),
                  nft(f"rename chain inet ovl_gwbridge br-kept {chain}"), FOUND_DRIFT,
                  f"the rules of bridge '{GW}' are missing (no chain inet ovl_gwbridge {chain})"),
            Drift("a port mapping with the attachment's tag added", nft(f"add element {element}"),
                  nft("delete element inet ovl_gwbridge ports4 { tcp . 9999 }"), FOUND_DRIFT,
                  f"the port mappings of {tag} differ: extra inet ports4 {{ tcp . 9999 : {cip} . 99 }}"),
            Drift("IP forwarding off", sysctl(0), sysctl(1), FOUND_DRIFT, "IP forwarding is off"),
        ]
        passed = run_drift(self, rows, self.prober("gwbridge", conf, cid, netns, res))
        self.assertEqual(len(passed), len(rows))
        self.report("gwbridge CHECK", passed)
