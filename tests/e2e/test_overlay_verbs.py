"""End-to-end: the overlay plugin's verbs and edges that no other module reaches (issue 15, item 3): STATUS
against a running and a stopped Consul, DEL during a Consul outage, the resolver letting go of a container's
namespace and answering SERVFAIL without upstreams, an IPAM child that hangs, and ADD/CHECK/DEL/DEL at every
cniVersion the plugin supports.

Topology: a persistent Consul server on cs (a restart keeps the store, as a production one does), one host h1
(underlay MTU 1400) running overlay-resolver with no upstream resolvers, containers as network namespaces;
overlay-ipam with the Consul store.
"""

import glob
import json
import os
import re
import subprocess
import time
import unittest

from ovltest.faults import (container_keys, container_links, journaled_releases, our_links, read_proc,
                            wait_for)
from ovltest.plugins import OVL_BIN_DIR, find_binary, plugin_env, run_plugin
from ovltest.timing import scaled
from rtlib import PREFIX, RtCluster

VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
NOT_READY = 50
TRY_AGAIN_LATER = 11
INCOMPATIBLE_VERSION = 1


def conf(net, subnet, version="1.1.0", **ipam_extra):
    return {"cniVersion": version, "name": net, "type": "overlay",
            "ipam": dict({"type": "overlay-ipam", "subnet": subnet}, **ipam_extra)}


class OverlayVerbs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = RtCluster(nhosts=1, consul_data=True)
        cls.t, cls.h, cls.consul = cls.c.t, cls.c.hosts[0], cls.c.consul
        cls.state = os.path.join(cls.c.tmp, "state-h1")
        try:
            cls.c.start_resolvers()
        except BaseException:
            cls.c.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.c.cleanup()

    def setUp(self):
        self.started = time.monotonic()
        self.addCleanup(self.nothing_left)  # the first cleanup runs last, after the test's own DELs

    def nothing_left(self):
        self.assertEqual(our_links(self.t, self.h), [], "links left")
        self.assertEqual(container_keys(self.consul), [], "keys left")
        self.assertEqual(journaled_releases(self.state), [], "releases left in the journal")
        print(f"\n  ({time.monotonic() - self.started:.1f} s)", end=" ")

    def call(self, command, c, cid=None, netns=None, ifname="eth0", args="", prev=None, **kw):
        if prev is not None:
            c = dict(c, prevResult=prev)
        return run_plugin(self.t, self.h, "overlay", command, c, cid, netns, ifname, cni_args=args,
                          extra_env=dict(self.c.env(self.h), **kw.pop("env", {})), **kw)

    def ok(self, command, c, cid=None, netns=None, **kw):
        rc, res, out, err = self.call(command, c, cid, netns, **kw)
        self.assertEqual(rc, 0, f"{command} {cid}: {out} {err[-2000:]}")
        return res

    def attach(self, c, cid, args=""):
        netns = self.t.add_container(self.h, cid)
        res = self.ok("ADD", c, cid, netns, args=args)
        self.addCleanup(self.ok, "DEL", c, cid, "")
        return netns, res

    def consul_down(self):
        self.consul.stop()
        self.addCleanup(self.consul.start)

    # ---------------------------------------------------------------------------------------------------------
    def test_status_follows_consul(self):
        c = conf("verbs-status", "10.60.0.0/24")
        self.assertEqual(self.call("STATUS", c)[:3], (0, None, ""))
        rc, err, out, _ = self.call("STATUS", dict(c, cniVersion="1.0.0"))
        self.assertEqual((rc, err["code"]), (1, INCOMPATIBLE_VERSION), out)
        self.assertIn("STATUS", err["msg"])
        self.consul_down()
        start = time.monotonic()
        rc, err, out, _ = self.call("STATUS", c)
        took = time.monotonic() - start
        self.assertEqual((rc, err and err["code"]), (1, NOT_READY), out)
        self.assertIn("consul at http://198.51.100.10:8500 is unreachable", err["msg"])
        self.assertLess(took, scaled(3), "README: Consul failures within 3 s")
        self.consul.start()
        self.assertEqual(self.call("STATUS", c)[:3], (0, None, ""))

    def test_del_during_consul_outage(self):
        c = conf("verbs-del", "10.61.0.0/24")
        netns = self.t.add_container(self.h, "out1")
        res = self.ok("ADD", c, "out1", netns)
        ip = res["ips"][0]["address"].split("/")[0]
        veth = res["interfaces"][1]["name"]
        self.consul_down()
        rc, err, out, log = self.call("DEL", c, "out1", netns, prev=res)
        # DEL undoes everything on the host and succeeds: the release is journaled by the IPAM, the deletion of
        # the attachment record and of the membership kept in the host's memory; both are sent when the store
        # answers again (a runtime like podman does not retry DEL).
        self.assertEqual(rc, 0, out + log[-2000:])
        self.assertEqual(container_links(self.t, netns), [], "the container kept its interface")
        self.assertEqual(our_links(self.t, self.h), [], f"{veth} or the network's devices are left")
        self.assertEqual(journaled_releases(self.state), [("verbs-del", "out1", "eth0")])
        self.assertEqual(self.call("DEL", c, "out1", "")[0], 0)  # the runtime's retry, still during the outage
        self.consul.start()
        self.assertIsNotNone(self.consul.kv_get(f"{PREFIX}/ipam/verbs-del/leases/{ip}"))
        # Still there: the lease and its owner index (journaled), the attachment record and the membership (kept).
        self.assertEqual(len(container_keys(self.consul)), 4, container_keys(self.consul))
        # The next call on this host (here a DEL of something else, as a runtime's GC or next container would
        # make) sends the kept deletions and the journaled release.
        self.ok("DEL", c, "other", "")
        self.assertEqual(journaled_releases(self.state), [])
        self.assertEqual(container_keys(self.consul), [])

    def traced(self, command, c, cid, netns="", whole=False):
        """A call under strace: (returncode, output, [(method, path)] of the HTTP requests it sent to Consul);
        with whole, the requests' whole text (headers and body) instead."""
        trace = os.path.join(self.c.tmp, f"strace-{command}-{cid}")
        env = plugin_env(command, cid, netns, "eth0", extra_env=self.c.env(self.h))
        p = self.t.run(self.h, "strace", "-f", "-qq", "-e", "trace=sendto,write", "-s", "65536" if whole else "96",
                       "-o", trace, find_binary("overlay"), input=json.dumps(c), check=False,
                       env={k: v for k, v in env.items() if k.startswith(("CNI_", "OVL_"))})
        with open(trace) as f:
            text = f.read()
        if whole:
            return p.returncode, p.stdout + p.stderr, re.findall(r'"((?:GET|PUT|DELETE) /v1/(?:[^"\\]|\\.)*)"', text)
        return p.returncode, p.stdout + p.stderr, re.findall(r'"(GET|PUT|DELETE) (/v1/[^ ]*) HTTP', text)

    def test_add_reads_once_and_writes_once(self):
        """ADD on a host that already has the network: one transaction reads the network's records with the
        IPAM's cursor and the store's identity marker (model::ReadAhead), one writes the lease with the
        attachment (model::LeaseCompanion)."""
        c = conf("verbs-add1", "10.64.0.0/24")
        self.attach(c, "add0")
        netns = self.t.add_container(self.h, "add1")
        rc, out, requests = self.traced("ADD", c, "add1", netns)
        self.addCleanup(self.ok, "DEL", c, "add1", "")
        self.assertEqual(rc, 0, out[-2000:])
        self.assertEqual(requests, [("PUT", "/v1/txn"), ("PUT", "/v1/txn")], requests)
        self.assertEqual(len([k for k in container_keys(self.consul) if "/add1/" in k]), 2)  # attachment, owner

    def test_records_ride_only_with_the_same_credentials(self):
        """A network config whose IPAM section names its own Consul token: the overlay's records do not ride in
        the IPAM's transactions (they would be written with a token the overlay's configuration did not give),
        neither on ADD nor on DEL; the overlay writes and deletes them itself, and nothing is left."""
        c = conf("verbs-token", "10.65.0.0/24", consul={"token": "ipam-only-token"})
        self.attach(c, "tok0")
        netns = self.t.add_container(self.h, "tok1")
        self.addCleanup(self.ok, "DEL", c, "tok1", "")  # idempotent: after the DEL below, or if it did not run
        for command in ("ADD", "DEL"):
            rc, out, requests = self.traced(command, c, "tok1", netns, whole=True)
            self.assertEqual(rc, 0, out[-2000:])
            ipam = [r for r in requests if "ipam-only-token" in r]
            self.assertTrue(ipam, requests)  # the IPAM sent its own, with its token
            self.assertFalse([r for r in ipam if "/attachments/" in r], ipam)
            self.assertTrue([r for r in requests if "/attachments/" in r and "ipam-only-token" not in r], requests)
            held = [k for k in container_keys(self.consul) if "/tok1/" in k]
            self.assertEqual(len(held), 2 if command == "ADD" else 0, held)  # attachment and owner index

    def test_del_writes_its_records_with_the_release(self):
        """DEL of a container whose network has others on this host: the owner index read and one transaction
        that deletes the leases, the owner index and the attachment record (model::ReleaseCompanion). The
        deletion does not depend on the network's definition: without it (gone from the store) the DEL is the
        same two requests and deletes the same records."""
        c = conf("verbs-once", "10.63.0.0/24")
        self.attach(c, "once0")  # keeps the network's devices and membership: no withdrawal in the DELs below
        for cid in ("once1", "once2"):
            self.ok("ADD", c, cid, self.t.add_container(self.h, cid))
        before = set(container_keys(self.consul))
        rc, out, requests = self.traced("DEL", c, "once1")
        self.assertEqual(rc, 0, out[-2000:])
        self.assertEqual([m for m, _ in requests], ["GET", "PUT"], requests)
        self.assertIn("/v1/txn", requests[1][1])
        gone = before - set(container_keys(self.consul))
        self.assertEqual(sorted(p for k in gone for p in ("/attachments/", "/leases/", "/owners/") if p in k),
                         ["/attachments/", "/leases/", "/owners/"], gone)
        self.assertEqual([k for k in container_keys(self.consul) if "once1" in k], [])

        config = f"{PREFIX}/networks/verbs-once/config"
        saved = self.consul.kv_get(config)
        self.assertIsNotNone(saved)
        self.consul.kv_delete(config)
        self.addCleanup(self.consul.kv_put, config, saved)  # before once0's DEL, which runs after this test
        rc, out, requests = self.traced("DEL", c, "once2")
        self.assertEqual(rc, 0, out[-2000:])
        self.assertEqual([k for k in container_keys(self.consul) if "once2" in k], [], requests)
        self.assertEqual(len(container_keys(self.consul)), len(before) - 6)  # once1's three and once2's three
        self.assertEqual([m for m, _ in requests], ["GET", "PUT"], requests)

    def test_resolver_lets_go_of_the_namespace(self):
        c = conf("verbs-dns", "10.62.0.0/24")
        n1, r1 = self.attach(c, "dns1", args="IgnoreUnknown=1;K8S_POD_NAME=dns1")
        self.assertEqual(r1["dns"]["nameservers"][0], "127.0.0.11")
        self.assertTrue(self.serving(n1))
        self.assertEqual(self.query(n1, "dns1"), ("NOERROR", [r1["ips"][0]["address"].split("/")[0]]))
        # No upstream in the node config ("upstreams": []): an outside name is SERVFAIL, not relayed anywhere.
        self.assertEqual(self.query(n1, "outside.example"), ("SERVFAIL", []))
        # After DEL the resolver closes its socket in the namespace (which would keep the namespace alive)
        # and forgets it.
        self.ok("DEL", c, "dns1", n1)
        wait_for(lambda: not self.serving(n1), 1, "the resolver to close its socket in the namespace after DEL")
        self.assertNotIn(n1, self.resolver_state())
        # The interface vanishing without a DEL (deleted by hand, a crashed runtime): the resolver sees it
        # within its 2 s sweep.
        n2, r2 = self.attach(c, "dns2")
        self.assertTrue(self.serving(n2))
        self.t.run(self.h, "ip", "link", "del", r2["interfaces"][1]["name"])
        wait_for(lambda: not self.serving(n2), 4, "the resolver's sweep to let go of a namespace without DEL")
        self.assertNotIn(n2, self.resolver_state())

    def serving(self, netns):
        """Whether something listens on 127.0.0.11:53/udp inside netns."""
        return "127.0.0.11:53" in self.t.run(netns, "ss", "-Hlun").stdout

    def resolver_state(self):
        text = ""
        for path in glob.glob(os.path.join(self.state, "ns-*", "resolver.json")):
            with open(path) as f:
                text += f.read()
        return text

    def query(self, netns, name):
        p = self.t.run(netns, "drill", name, "A", "@127.0.0.11", check=False, timeout=20)
        m = re.search(r"rcode: (\w+)", p.stdout)
        return (m.group(1) if m else f"no answer: {p.stdout.strip()[-200:]} {p.stderr.strip()[-200:]}",
                re.findall(r"^\S+\s+\d+\s+IN\s+A\s+(\S+)$", p.stdout, re.M))

    def test_hung_ipam_child(self):
        bindir = os.path.join(self.c.tmp, "hung-bin")
        os.makedirs(bindir, exist_ok=True)
        fakes = {"hung-ipam": "exec sleep 1000",  # the IPAM binary itself hangs
                 "hung-wrapper": "sleep 1000 &\necho $! >> \"$0.pids\"\nwait"}  # a wrapper script whose child hangs
        for name, body in fakes.items():
            with open(os.path.join(bindir, name), "w") as f:
                f.write(f"#!/bin/sh\necho $$ >> \"$0.pids\"\n{body}\n")
            os.chmod(os.path.join(bindir, name), 0o755)
        links, keys = our_links(self.t, self.h), self.consul.kv_keys(f"{PREFIX}/")
        for name in fakes:
            with self.subTest(name):
                c = {"cniVersion": "1.0.0", "name": "verbs-hung", "type": "overlay", "ipam": {"type": name}}
                netns = self.t.add_container(self.h, name)
                start = time.monotonic()
                rc, err, out, log = self.call("ADD", c, name, netns, cni_path=f"{bindir}:{OVL_BIN_DIR}",
                                              env={"OVL_DELEGATE_TIMEOUT_MS": 1500},
                                              stderr_file=os.path.join(self.c.tmp, f"{name}.stderr"))
                took = time.monotonic() - start
                self.assertEqual((rc, err and err["code"]), (1, TRY_AGAIN_LATER), out + log[-1000:])
                self.assertEqual(err["msg"], f"{name} did not finish within 1500 ms")
                self.assertLess(took, 1.5 + scaled(2), "ADD must fail at the delegate timeout")
                self.assertEqual(container_links(self.t, netns), [])
                self.assertEqual(our_links(self.t, self.h), links)
                self.assertEqual(self.consul.kv_keys(f"{PREFIX}/"), keys)
                with open(os.path.join(bindir, name + ".pids")) as f:
                    pids = [int(p) for p in f.read().split()]
                alive = [p for p in pids if read_proc(p, "cmdline")]
                # The timeout stops the delegate's process group: the IPAM plugin and, for the wrapper, the
                # `sleep` it started (which would otherwise keep the plugin's stderr open and outlive ADD).
                for p in alive:
                    os.kill(p, 9)
                self.assertEqual(alive, [], f"{name}: the hung IPAM plugin or its child was not killed")

        # A runtime kills ADD while its IPAM child runs (a context deadline, an OOM kill): the child goes with
        # it (its parent-death signal), so it cannot commit a lease after the runtime has moved on to DEL.
        pidfile = os.path.join(bindir, "hung-wrapper.pids")
        open(pidfile, "w").close()
        c = {"cniVersion": "1.0.0", "name": "verbs-hung", "type": "overlay", "ipam": {"type": "hung-wrapper"}}
        netns = self.t.add_container(self.h, "killed-add")
        env = plugin_env("ADD", "killed-add", netns, "eth0", "", f"{bindir}:{OVL_BIN_DIR}", self.c.env(self.h))
        p = subprocess.Popen(self.t.exec_argv(self.h, find_binary("overlay")), stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, text=True)
        p.stdin.write(json.dumps(c))
        p.stdin.close()
        def pids():
            with open(pidfile) as f:
                return [int(x) for x in f.read().split()]
        wrapper = wait_for(pids, 10, "the IPAM child to start")[0]
        p.kill()
        p.wait()
        try:
            wait_for(lambda: not read_proc(wrapper, "cmdline"), 5, "the IPAM child of a killed ADD to exit")
        finally:
            for pid in pids():
                if read_proc(pid, "cmdline"):
                    os.kill(pid, 9)
        with open(os.path.join(bindir, "hung-wrapper"), "w") as f:  # for DEL: an IPAM that exits at once
            f.write("#!/bin/sh\nexit 0\n")  # without reading stdin (the plugin gets EPIPE, not SIGPIPE)
        self.ok("DEL", c, "killed-add", netns, cni_path=f"{bindir}:{OVL_BIN_DIR}")
        self.assertEqual(container_links(self.t, netns), [])

    def test_every_cni_version(self):
        for v in VERSIONS:
            with self.subTest(version=v):
                self.add_check_del_del(v)

    def add_check_del_del(self, v):
        c = conf("verbs-ver", "10.63.0.0/24", version=v)
        cid = "v" + v.replace(".", "")
        netns = self.t.add_container(self.h, cid)
        res = self.ok("ADD", c, cid, netns)
        self.addCleanup(self.ok, "DEL", c, cid, "")  # a no-op once the test's own DELs ran
        vni = json.loads(self.consul.kv_get(f"{PREFIX}/networks/verbs-ver/config"))["vni"]
        # The result in the shape of the requested version.
        self.assertEqual(res["cniVersion"], v)
        names = [i["name"] for i in res["interfaces"]]
        self.assertEqual(names[0], f"ovbr-{vni}")
        self.assertTrue(names[1].startswith("ovv"))
        self.assertEqual(names[2], "eth0")
        self.assertEqual([i.get("sandbox") for i in res["interfaces"]], [None, None, netns])
        self.assertTrue(all(re.fullmatch(r"[0-9a-f:]{17}", i["mac"]) for i in res["interfaces"]))
        self.assertEqual(["mtu" in i for i in res["interfaces"]], [v == "1.1.0"] * 3)
        if v == "1.1.0":
            self.assertEqual({i["mtu"] for i in res["interfaces"]}, {1350})
        [ip] = res["ips"]
        self.assertEqual(ip["interface"], 2)
        self.assertEqual(ip.get("version"), "4" if v < "1.0.0" else None)
        self.assertEqual(ip["gateway"], "10.63.0.1")
        self.assertEqual(res["dns"]["nameservers"][0], "127.0.0.11")
        # The kernel as the result says.
        eth0 = json.loads(self.t.run(netns, "ip", "-j", "addr", "show", "dev", "eth0").stdout)[0]
        self.assertEqual(eth0["address"], res["interfaces"][2]["mac"])
        self.assertEqual(eth0["mtu"], 1350)
        self.assertIn(ip["address"], [f"{a['local']}/{a['prefixlen']}" for a in eth0["addr_info"]])
        host = json.loads(self.t.run(self.h, "ip", "-j", "link", "show", "dev", names[1]).stdout)[0]
        self.assertEqual((host["address"], host["master"]), (res["interfaces"][1]["mac"], names[0]))
        # CHECK from 0.4.0 on; before that the version has no CHECK.
        rc, err, out, _ = self.call("CHECK", c, cid, netns, prev=res)
        if v >= "0.4.0":
            self.assertEqual(rc, 0, out)
        else:
            self.assertEqual((rc, err["code"]), (1, INCOMPATIBLE_VERSION), out)
            self.assertIn("CHECK requires cniVersion 0.4.0", err["msg"])
        # DEL as the runtime sends it (with prevResult from 0.4.0 on), then again without netns and prevResult.
        self.ok("DEL", c, cid, netns, prev=res if v >= "0.4.0" else None)
        self.assertEqual(container_links(self.t, netns), [])
        self.assertEqual(our_links(self.t, self.h), [])
        self.assertEqual(container_keys(self.consul), [])
        self.ok("DEL", c, cid, "")
        self.assertEqual(our_links(self.t, self.h), [])


if __name__ == "__main__":
    unittest.main()
