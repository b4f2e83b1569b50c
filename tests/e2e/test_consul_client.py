"""The C++ Consul client (common/kv) against a real Consul, driven through tests/tools/kvtool."""

import json
import os
import subprocess
import time
import unittest

from ovltest import ConsulServer, Topology, tools_dir
from ovltest.timing import scaled

KVTOOL = os.path.join(tools_dir(), "kvtool")

# A consul stand-in: the first write (PUT or DELETE) after the log file (argv[2]) is emptied, and every second
# one after it, is read and then the connection is closed without an answer; the others get a success. Each
# write's request line is appended to the log.
LOST_ANSWER_SERVER = r"""
import http.server, sys
ip, log = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def answer(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Consul-Index", "5")
        self.end_headers()
        self.wfile.write(body)
    def write(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        with open(log, "a+") as f:
            f.seek(0)
            before = len(f.readlines())
            f.write(self.command + " " + self.path + "\n")
        if before % 2 == 0:
            self.close_connection = True
            return
        self.answer(b'{"Results":[],"Errors":null}' if self.path.startswith("/v1/txn") else b"true")
    do_PUT = do_DELETE = write
    def do_GET(self):
        self.answer(b'"' + ip.encode() + b':8300"' if self.path.startswith("/v1/status/leader") else b"[]")
http.server.ThreadingHTTPServer((ip, 8500), H).serve_forever()
"""


# A consul stand-in for stale reads: a GET with ?stale gets "old" with the headers in argv[2] (JSON), one
# without gets "new" (what the leader would say). Each GET's path is appended to the log (argv[3]).
STALE_SERVER = r"""
import base64, http.server, json, sys
ip, headers, log = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        with open(log, "a") as f:
            f.write(self.path + "\n")
        stale = "stale" in self.path.split("?", 1)[-1].split("&")
        value = base64.b64encode(b"old" if stale else b"new").decode()
        key = self.path.split("?", 1)[0][len("/v1/kv/"):] + "k"  # the prefix asked for, with the client's root
        body = json.dumps([{"Key": key, "Value": value, "Flags": 0, "CreateIndex": 3, "ModifyIndex": 7,
                            "LockIndex": 0}]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Consul-Index", "7")
        for k, v in (headers if stale else {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer((ip, 8500), H).serve_forever()
"""

# A stand-in whose prefix changes on a schedule counted from the first request: index 1, then three changes
# 20 ms apart at 0.5 s (a burst), then one more at 3 s (after a quiet spell). Logs every request, one JSON line.
FEED_SERVER = r"""
import base64, http.server, json, sys, time, urllib.parse
ip, log = sys.argv[1], sys.argv[2]
SCHEDULE = [(0.0, 1), (0.5, 2), (0.52, 3), (0.54, 4), (3.0, 5)]
start = None
def now():
    return time.monotonic() - start
def index_now():
    return max(i for at, i in SCHEDULE if at <= now())
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        global start
        if start is None:
            start = time.monotonic()
        path, _, q = self.path.partition("?")
        args = urllib.parse.parse_qs(q, keep_blank_values=True)
        want = int(args.get("index", ["0"])[0])
        wait = args.get("wait", [""])[0]
        asked = now()
        deadline = time.monotonic() + (int(wait[:-2]) / 1000 if wait.endswith("ms") else 0)
        while want and index_now() <= want and time.monotonic() < deadline:
            time.sleep(0.005)
        idx = index_now()
        with open(log, "a") as f:
            f.write(json.dumps({"at": asked, "stale": "stale" in args, "wait": wait, "index": want, "got": idx}) + "\n")
        key = path[len("/v1/kv/"):] + "k"
        body = json.dumps([{"Key": key, "Value": base64.b64encode(str(idx).encode()).decode(), "Flags": 0,
                            "CreateIndex": 1, "ModifyIndex": idx, "LockIndex": 0}]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Consul-Index", str(idx))
        self.send_header("X-Consul-KnownLeader", "true")
        self.send_header("X-Consul-LastContact", "0")
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer((ip, 8500), H).serve_forever()
"""


# A stand-in restored to an older snapshot 0.3 s after the first request: its index falls from 10 to 5. The
# leader's answer to a query blocks as Consul's does (while the index is not above the one asked for, until the
# wait runs out); a ?stale one returns as soon as the index differs (a follower whose wait ran out behind).
# Logs every request, one JSON line.
RESTORED_SERVER = FEED_SERVER.replace(
    "return max(i for at, i in SCHEDULE if at <= now())", "return 10 if now() < 0.3 else 5").replace(
    "while want and index_now() <= want and",
    "while want and (index_now() == want if 'stale' in args else index_now() <= want) and")
assert RESTORED_SERVER.count("now() < 0.3") == 1 and RESTORED_SERVER.count("'stale' in args") == 1


class ConsulClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(KVTOOL, os.X_OK):
            raise RuntimeError(f"kvtool not built at {KVTOOL} (set OVL_TEST_BIN_DIR or build target kvtool)")
        cls.t = Topology().start()
        cls.addClassCleanup(cls.t.cleanup)
        t = cls.t
        cls.h1 = t.add_host("h1", "198.51.100.1/24", mtu=1400)
        cs, ca, ct, cm = (t.add_host(n, f"198.51.100.{i}/24") for n, i in
                          (("cs", 100), ("ca", 101), ("ct", 102), ("cm", 103)))
        cls.consul = ConsulServer(t, cs, cs.ip)
        cls.acl = ConsulServer(t, ca, ca.ip, acl=True)
        cls.tls = ConsulServer(t, ct, ct.ip, tls=True)
        cls.mtls = ConsulServer(t, cm, cm.ip, tls="mutual")
        cls.outputs = []  # every kvtool stdout/stderr, checked for tokens

    def kv(self, *args, env=None, input=None, timeout=30):
        """Runs kvtool in h1. env defaults to the dev server. Returns (rc, parsed stdout, stdout, stderr, secs)."""
        env = dict(self.consul.client_env() if env is None else env)
        full = {k: v for k, v in os.environ.items() if not k.startswith("CONSUL_")}
        full.update(env)
        start = time.monotonic()
        p = subprocess.run(self.t.exec_argv(self.h1, KVTOOL, *args), input=input, capture_output=True, text=True,
                           env=full, timeout=timeout)
        secs = time.monotonic() - start
        self.outputs.append(p.stdout + p.stderr)
        try:
            parsed = json.loads(p.stdout) if p.stdout.strip() else None
        except ValueError:
            parsed = None
        return p.returncode, parsed, p.stdout, p.stderr, secs

    def ok(self, *args, **kw):
        rc, parsed, out, err, _ = self.kv(*args, **kw)
        self.assertEqual(rc, 0, f"kvtool {args}: {out} {err}")
        return parsed

    def start_stand_in(self, host, script, log):
        """Starts a Consul stand-in (script, argv: its address and log) in host; returns once it accepts."""
        p = self.t.popen(host, "python3", "-c", script, host.ip, log, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while self.t.run(host, "bash", "-c", f"exec 3<>/dev/tcp/{host.ip}/8500", check=False).returncode != 0:
            if time.monotonic() > deadline:
                p.terminate()
                p.wait()
                self.fail("the stand-in did not start")
            time.sleep(0.05)
        return p

    # --- basic operations ------------------------------------------------------------------------
    def test_put_get_list_keys(self):
        odd = "t1/ipam/10.0.0.0:24/10.0.0.5"
        weird = "t1/a b%2F?#&=+é"
        value = "line1\nline2 \"quoted\" é \x01"
        self.ok("put", odd, value)
        self.ok("put", weird, "w")
        self.ok("put", "t1/empty", "")
        got = self.ok("get", odd)
        self.assertEqual(got["key"], odd)
        self.assertEqual(got["value"], value)
        self.assertGreater(got["modifyIndex"], 0)
        self.assertEqual(self.ok("get", weird)["value"], "w")
        self.assertEqual(self.ok("get", "t1/empty")["value"], "")
        # Stored under the literal key: escaping is per segment and exact.
        self.assertEqual(sorted(self.consul.kv_keys("t1/")), sorted([odd, weird, "t1/empty"]))
        self.assertEqual(self.consul.kv_get(odd), value)
        listed = self.ok("list", "t1/")["pairs"]
        self.assertEqual(sorted(p["key"] for p in listed), sorted([odd, weird, "t1/empty"]))
        self.assertEqual(sorted(self.ok("keys", "t1/")), sorted([odd, weird, "t1/empty"]))
        self.assertEqual(self.ok("list", "t1-none/")["pairs"], [])
        self.assertEqual(self.ok("keys", "t1-none/"), [])
        rc, parsed, *_ = self.kv("get", "t1/missing")
        self.assertEqual((rc, parsed), (1, None))
        self.assertTrue(self.ok("ping"))

    def test_invalid_keys_are_refused_locally(self):
        for key in ("t2/../x", "/abs", "a//b", "a/./b"):
            rc, parsed, out, err, _ = self.kv("put", key, "v")
            self.assertEqual(rc, 7, out)
            self.assertIn("invalid consul key", parsed["msg"])

    def test_cas_create_only_and_update(self):
        self.assertTrue(self.ok("cas", "t3/k", "first", "0"))
        rc, parsed, *_ = self.kv("cas", "t3/k", "second", "0")
        self.assertEqual((rc, parsed), (1, False), "create-only cas on an existing key fails")
        cur = self.ok("get", "t3/k")
        self.assertEqual(cur["value"], "first")
        self.assertTrue(self.ok("cas", "t3/k", "third", str(cur["modifyIndex"])))
        rc, parsed, *_ = self.kv("cas", "t3/k", "stale", str(cur["modifyIndex"]))
        self.assertEqual((rc, parsed), (1, False))
        now = self.ok("get", "t3/k")
        rc, parsed, *_ = self.kv("delcas", "t3/k", str(cur["modifyIndex"]))
        self.assertEqual((rc, parsed), (1, False))
        self.assertTrue(self.ok("delcas", "t3/k", str(now["modifyIndex"])))
        self.assertIsNone(self.consul.kv_get("t3/k"))

    def test_txn_is_atomic(self):
        self.ok("put", "t4/exists", "x")
        ops = [{"verb": "set", "key": "t4/a", "value": "1"},
               {"verb": "check-not-exists", "key": "t4/exists"},
               {"verb": "set", "key": "t4/b", "value": "2"}]
        rc, parsed, out, err, _ = self.kv("txn", input=json.dumps(ops))
        self.assertEqual(rc, 1, out + err)
        self.assertFalse(parsed["committed"])
        self.assertTrue(parsed["errors"])
        self.assertTrue(any("op 1" in e for e in parsed["errors"]), parsed["errors"])
        self.assertIsNone(self.consul.kv_get("t4/a"), "a rolled-back txn writes nothing")
        self.assertIsNone(self.consul.kv_get("t4/b"))

        ops = [{"verb": "check-not-exists", "key": "t4/a"},
               {"verb": "set", "key": "t4/a", "value": "1"},
               {"verb": "set", "key": "t4/b", "value": "2"},
               {"verb": "get", "key": "t4/exists"}]
        res = self.ok("txn", input=json.dumps(ops))
        self.assertTrue(res["committed"])
        self.assertEqual(res["errors"], [])
        self.assertEqual([r["key"] for r in res["results"]], ["t4/a", "t4/b", "t4/exists"])
        self.assertEqual(res["results"][2]["value"], "x")
        self.assertEqual((self.consul.kv_get("t4/a"), self.consul.kv_get("t4/b")), ("1", "2"))

        idx = self.ok("get", "t4/a")["modifyIndex"]
        res = self.ok("txn", input=json.dumps([{"verb": "cas", "key": "t4/a", "value": "9", "index": idx},
                                               {"verb": "delete-tree", "key": "t4/b"}]))
        self.assertTrue(res["committed"])
        self.assertEqual(self.consul.kv_get("t4/a"), "9")
        self.assertIsNone(self.consul.kv_get("t4/b"))

    def test_trees_are_read_in_one_request_from_one_snapshot(self):
        self.ok("put", "t14/a/x", "1")
        self.ok("put", "t14/b/y", "2")
        self.ok("put", "t14/b/z", "3")
        self.ok("put", "t14/c/w", "4")  # beside the prefixes read: not listed
        self.ok("put", "t14/a/gone", "5")
        self.ok("del", "t14/a/gone")
        idx = {k: self.ok("get", k)["modifyIndex"] for k in ("t14/a/x", "t14/b/y", "t14/b/z")}
        a, b, none = self.ok("trees", "t14/a/", "t14/b/", "t14/none/")
        self.assertEqual([(p["key"], p["value"]) for p in a["pairs"]], [("t14/a/x", "1")])
        self.assertEqual(sorted((p["key"], p["value"]) for p in b["pairs"]), [("t14/b/y", "2"), ("t14/b/z", "3")])
        # Consul gives a read transaction no index: the newest record's (the deletion does not count).
        self.assertEqual(a["index"], idx["t14/a/x"])
        self.assertEqual(b["index"], max(idx["t14/b/y"], idx["t14/b/z"]))
        self.assertEqual((none["index"], none["pairs"]), (1, []))
        # A prefix inside another would list its records twice: refused before anything is sent.
        rc, parsed, out, err, _ = self.kv("trees", "t14/", "t14/b/")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("inside prefix t14/", parsed["msg"])

    def test_delete_absent_is_ok(self):
        self.assertTrue(self.ok("del", "t5/never-existed"))
        self.assertTrue(self.ok("deltree", "t5-nothing/"))
        self.ok("put", "t5/a/1", "1")
        self.ok("put", "t5/a/2", "2")
        self.ok("put", "t5/b", "3")
        self.ok("del", "t5/b")
        self.ok("deltree", "t5/a/")
        self.assertEqual(self.consul.kv_keys("t5/"), [])

    def test_blocking_list_returns_on_change(self):
        self.ok("put", "t6/k", "v1")
        first = self.ok("watch", "t6/", "0", "0")
        index = first["index"]
        self.assertGreater(index, 0)
        self.assertEqual(first["pairs"][0]["value"], "v1")

        # No change: blocks for about the wait time, index unchanged.
        rc, parsed, out, err, secs = self.kv("watch", "t6/", str(index), "1000")
        self.assertEqual(rc, 0, out + err)
        self.assertGreaterEqual(secs, 0.9)
        self.assertEqual(parsed["index"], index)

        # A change from another process wakes it long before its 20 s wait.
        full = dict(os.environ, **self.consul.client_env())
        start = time.monotonic()
        p = subprocess.Popen(self.t.exec_argv(self.h1, KVTOOL, "watch", "t6/", str(index), "20000"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full)
        time.sleep(0.5)
        self.assertIsNone(p.poll(), "the blocking query must wait")
        self.consul.kv_put("t6/k", "v2")
        out, err = p.communicate(timeout=10)
        secs = time.monotonic() - start
        self.assertEqual(p.returncode, 0, out + err)
        res = json.loads(out)
        self.assertLess(secs, scaled(3.0))
        self.assertGreater(res["index"], index)
        self.assertEqual(res["pairs"][0]["value"], "v2")

    def test_stale_reads_come_from_a_server_in_touch_with_the_leader(self):
        """The daemons' watches read with ?stale (any server answers from its copy), but not from a server
        that lost the leader: then the leader's answer is taken."""
        # The real server: a stale watch sees what was written.
        self.ok("put", "t9/k", "v1")
        first = self.ok("watch-stale", "t9/", "0", "0")
        self.assertEqual([p["value"] for p in first["pairs"]], ["v1"])
        self.consul.kv_put("t9/k", "v2")
        later = self.ok("watch-stale", "t9/", str(first["index"]), "5000")
        self.assertEqual([p["value"] for p in later["pairs"]], ["v2"])
        # A stand-in that says how in touch it is.
        fake = self.t.add_host("cf", "198.51.100.108/24")
        cases = [({"X-Consul-KnownLeader": "true", "X-Consul-LastContact": "40"}, "old"),
                 ({"X-Consul-KnownLeader": "false", "X-Consul-LastContact": "0"}, "new"),
                 ({"X-Consul-KnownLeader": "true", "X-Consul-LastContact": "2500"}, "new")]
        for k, (headers, want) in enumerate(cases):
            log = os.path.join(self.t.tmpdir, f"stale-{k}.log")
            p = self.t.popen(fake, "python3", "-c", STALE_SERVER, fake.ip, json.dumps(headers), log,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = time.monotonic() + 10
                while self.kv("--store", "consul://198.51.100.108:8500", "list", "t9/", env={})[0] != 0:
                    self.assertLess(time.monotonic(), deadline, "the stand-in did not start")
                    time.sleep(0.1)
                open(log, "w").close()
                got = self.ok("--store", "consul://198.51.100.108:8500", "watch-stale", "t9/", "0", "0", env={})
                self.assertEqual([q["value"] for q in got["pairs"]], [want], headers)
                with open(log) as f:
                    paths = f.read().split()
                self.assertIn("stale", paths[0].split("?", 1)[1].split("&"), paths)
                self.assertEqual(len(paths), 1 if want == "old" else 2, paths)
            finally:
                p.terminate()
                p.wait()

    def test_watches_ask_the_leader_when_quiet_and_any_server_in_a_burst(self):
        """consul.watchReads auto (the default): a quiet prefix is watched on the leader (a change arrives
        as soon as it commits; a follower would learn of it 50-100 ms later), a prefix whose changes follow
        each other within 300 ms with ?stale for 300 ms at a time (the leader's CPU is what a burst uses up),
        and once the burst is over the next change comes from the leader again."""
        fake = self.t.add_host("cg", "198.51.100.109/24")
        log = os.path.join(self.t.tmpdir, "feed.log")
        p = self.start_stand_in(fake, FEED_SERVER, log)
        try:
            got = self.ok("--store", "consul://198.51.100.109:8500", "feed", "t10/", "3500", env={})
        finally:
            p.terminate()
            p.wait()
        with open(log) as f:
            reqs = [json.loads(line) for line in f]
        self.assertGreaterEqual(got["changes"], 4, reqs)  # the first answer, the burst (maybe coalesced), the last
        self.assertFalse(reqs[0]["stale"], reqs)
        burst = [r for r in reqs if r["stale"]]
        self.assertTrue(burst, f"no query with ?stale during the burst: {reqs}")
        self.assertTrue(all(r["wait"] == "300ms" for r in burst), burst)
        last = [r for r in reqs if r["got"] == 5 and r["index"] == 4]
        self.assertEqual(len(last), 1, reqs)
        self.assertFalse(last[0]["stale"], f"the change after the quiet spell came from a follower: {reqs}")
        self.assertEqual(last[0]["wait"], "60000ms", reqs)

    def test_a_store_restored_older_is_seen_within_the_burst_window(self):
        """A follower's listing older than the one held is dropped (it only lags) and the leader is asked
        next; that read waits the burst window, not the minute at rest: a store restored to an older snapshot
        holds a query for an index it does not reach yet, and the feed must see the restore within a second
        (its records may be gone: the hosts put back what they know)."""
        fake = self.t.add_host("cr", "198.51.100.110/24")
        log = os.path.join(self.t.tmpdir, "restored.log")
        p = self.start_stand_in(fake, RESTORED_SERVER, log)
        try:
            got = self.ok("--store", "consul://198.51.100.110:8500", "--config", '{"watchReads": "any"}',
                          "feed", "t11/", "2500", env={})
        finally:
            p.terminate()
            p.wait()
        with open(log) as f:
            reqs = [json.loads(line) for line in f]
        # The first listing (10), then the restored store (5; the client resets a backwards index to 1, as
        # Consul tells clients to, so the next answer counts once more). Without the short wait: 1.
        self.assertGreaterEqual(got["changes"], 2, reqs)
        behind = [r for r in reqs if r["stale"] and r["index"] == 10 and r["got"] == 5]
        self.assertTrue(behind, f"no follower answer older than the listing held: {reqs}")
        leader = [r for r in reqs if not r["stale"]]
        self.assertTrue(leader, f"the leader was not asked after the older answer: {reqs}")
        self.assertEqual(leader[0]["index"], 10, reqs)
        self.assertEqual(leader[0]["wait"], "300ms", reqs)
        self.assertEqual(leader[0]["got"], 5, reqs)

    # --- failures --------------------------------------------------------------------------------
    def test_unreachable_consul_fails_fast_with_code_11(self):
        cx = self.t.add_host("cx", "198.51.100.104/24")
        server = ConsulServer(self.t, cx, cx.ip)
        env = server.client_env()
        self.ok("put", "t7/k", "v", env=env)
        server.stop()
        for cmd in (("get", "t7/k"), ("put", "t7/k", "v"), ("cas", "t7/k", "v", "0"), ("ping",)):
            rc, parsed, out, err, secs = self.kv(*cmd, env=env)
            self.assertEqual(rc, 11, out + err)
            self.assertEqual(parsed["code"], 11)
            self.assertIn(f"consul at {server.addr} is unreachable", parsed["msg"])
            self.assertLess(secs, scaled(3.0))
        server.start()
        self.assertTrue(self.ok("ping", env=env))

        # Nothing answers at all on that address (connect times out): still bounded.
        rc, parsed, out, err, secs = self.kv("get", "k", env={"CONSUL_HTTP_ADDR": "198.51.100.200:8500"})
        self.assertEqual(rc, 11, out + err)
        self.assertIn("consul at http://198.51.100.200:8500 is unreachable", parsed["msg"])
        self.assertLess(secs, scaled(3.0))

    def test_lost_answers_resend_only_what_is_safe(self):
        """A server that reads a write and hangs up without answering (a leader killed mid-request): reads,
        plain sets and Resend::SelfIdentifying writes are sent again; a plain cas is not (applied twice, it
        would report a lost race for its own write)."""
        fx = self.t.add_host("fx", "198.51.100.107/24")
        log = os.path.join(self.t.tmpdir, f"lostans-{fx.ns}.log")
        fake = self.t.popen(fx, "python3", "-c", LOST_ANSWER_SERVER, fx.ip, log)
        env = {"CONSUL_HTTP_ADDR": f"{fx.ip}:8500"}
        deadline = time.monotonic() + scaled(10)
        while self.kv("--config", '{"requestTimeoutMs": 500, "retries": 0}', "ping", env=env)[0] != 0:
            self.assertIsNone(fake.poll(), "fake consul exited")
            self.assertLess(time.monotonic(), deadline, "fake consul did not start")
            time.sleep(0.05)

        def sent(*args, stdin=None):
            """kvtool against the fake; returns (rc, parsed, how many times the write reached the server)."""
            open(log, "w").close()
            rc, parsed, out, err, _ = self.kv(*args, env=env, input=stdin)
            with open(log) as f:
                return rc, parsed, len(f.readlines()), out + err

        cas_txn = json.dumps([{"verb": "cas", "key": "k", "value": "v", "index": 0}])
        set_txn = json.dumps([{"verb": "set", "key": "k", "value": "v"}])
        check_txn = json.dumps([{"verb": "check-not-exists", "key": "k"}, {"verb": "set", "key": "k", "value": "v"}])
        for args, stdin, want_rc, want_sent in (
                (("cas", "k", "v", "0"), None, 11, 1),
                (("txn",), cas_txn, 11, 1),
                (("txn",), check_txn, 11, 1),
                (("put", "k", "v"), None, 0, 2),
                (("txn",), set_txn, 0, 2),
                (("--resend-self", "cas", "k", "v", "0"), None, 0, 2),
                (("--resend-self", "delcas", "k", "7"), None, 0, 2),
                (("--resend-self", "txn"), cas_txn, 0, 2)):
            rc, parsed, n, out = sent(*args, stdin=stdin)
            self.assertEqual((rc, n), (want_rc, want_sent), f"kvtool {args} {stdin or ''}: {out}")
            if rc == 11:
                self.assertIn("failed: Server returned nothing", parsed["msg"], out)

    def test_failover_over_the_address_list(self):
        cfg = json.dumps({"addresses": ["consul://198.51.100.105:8500", self.consul.addr], "retries": 1})
        self.ok("--config", cfg, "put", "t8/k", "v", env={})
        self.assertEqual(self.ok("--config", cfg, "get", "t8/k", env={})["value"], "v")
        rc, parsed, out, err, secs = self.kv("--store", "consul://198.51.100.105:8500,consul://198.51.100.106:8500",
                                             "get", "t8/k", env={})
        self.assertEqual(rc, 11, out + err)
        self.assertIn("http://198.51.100.105:8500, http://198.51.100.106:8500", parsed["msg"])
        self.assertLess(secs, scaled(3.0))

    def test_prefix_and_store_url(self):
        store = f"consul://{self.consul.ip}:8500"
        self.assertEqual(self.ok("--store", store, "key", "ipam/x", env={}), "overlay-cni/ipam/x")
        self.assertEqual(self.ok("--store", store, "--prefix", "p/q", "key", "x", env={}), "p/q/x")
        rc, parsed, out, err, _ = self.kv("--config", '{"adresses": []}', "ping", env={})
        self.assertEqual(rc, 7)
        self.assertIn("consul.adresses is not a known key", parsed["msg"])
        rc, parsed, out, err, _ = self.kv("ping", env={})
        self.assertEqual(rc, 7)
        self.assertIn("no consul address", parsed["msg"])

    def test_acl_default_deny(self):
        good = self.acl.create_token(key_prefix="overlay-cni/")
        bad = "00000000-1111-2222-3333-444444444444"
        secrets = [good, bad, self.acl.master_token]
        debug = {"OVL_LOG_LEVEL": "debug"}
        self.assertTrue(self.ok("put", "overlay-cni/t9", "v", env=dict(self.acl.client_env(token=good), **debug)))
        self.assertEqual(self.acl.kv_get("overlay-cni/t9"), "v")
        for env in (self.acl.client_env(token=bad), self.acl.client_env(),
                    self.acl.client_env(token=good)):  # the last: outside the token's prefix
            key = "other/t9" if env.get("CONSUL_HTTP_TOKEN") == good else "overlay-cni/t9"
            rc, parsed, out, err, secs = self.kv("get", key, env=dict(env, **debug))
            self.assertEqual(rc, 7, out + err)
            self.assertIn(f"consul at {self.acl.addr} denied access (ACL token missing or invalid)", parsed["msg"])
            self.assertLess(secs, scaled(3.0))

        tokfile = os.path.join(self.t.tmpdir, "token")
        with open(tokfile, "w") as f:
            f.write(good + "\n")
        env = dict(self.acl.client_env(), CONSUL_HTTP_TOKEN_FILE=tokfile)
        self.assertEqual(self.ok("get", "overlay-cni/t9", env=env)["value"], "v")
        env["CONSUL_HTTP_TOKEN_FILE"] = tokfile + ".missing"
        rc, parsed, out, err, _ = self.kv("get", "overlay-cni/t9", env=env)
        self.assertEqual(rc, 7)
        self.assertIn(tokfile + ".missing", parsed["msg"])

        everything = "\n".join(self.outputs)
        for s in secrets:
            self.assertNotIn(s, everything, "a token leaked into kvtool output")

    def test_tls(self):
        self.assertTrue(self.ok("put", "t10/k", "v", env=self.tls.client_env()))
        self.assertEqual(self.ok("get", "t10/k", env=self.tls.client_env())["value"], "v")
        rc, parsed, out, err, _ = self.kv("get", "t10/k", env=self.tls.client_env(ca=False))
        self.assertEqual(rc, 7, out + err)
        self.assertIn(f"consul at {self.tls.addr}", parsed["msg"])
        self.assertIn("certificate was not trusted", parsed["msg"])
        skip = dict(self.tls.client_env(ca=False), CONSUL_HTTP_SSL_VERIFY="false")
        self.assertEqual(self.ok("get", "t10/k", env=skip)["value"], "v")
        rc, parsed, out, err, _ = self.kv("get", "t10/k", env={"CONSUL_HTTP_ADDR": f"http://{self.tls.ip}:8501"})
        self.assertEqual(rc, 7, out + err)
        self.assertIn("expects HTTPS", parsed["msg"])
        ssl_env = {"CONSUL_HTTP_ADDR": f"{self.tls.ip}:8501", "CONSUL_HTTP_SSL": "true",
                   "CONSUL_CACERT": self.tls.ca_file}
        self.assertEqual(self.ok("get", "t10/k", env=ssl_env)["value"], "v")

    def test_mutual_tls(self):
        self.assertTrue(self.ok("put", "t11/k", "v", env=self.mtls.client_env(client_cert=True)))
        rc, parsed, out, err, secs = self.kv("get", "t11/k", env=self.mtls.client_env())
        self.assertEqual(rc, 7, out + err)
        self.assertIn("client certificate", parsed["msg"])
        self.assertLess(secs, scaled(3.0))


if __name__ == "__main__":
    unittest.main()
