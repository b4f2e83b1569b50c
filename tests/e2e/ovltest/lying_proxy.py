"""An HTTP proxy in front of Consul that applies a write and then answers as a dying leader would.

    python3 lying_proxy.py LISTEN_IP LISTEN_PORT UPSTREAM_IP UPSTREAM_PORT MODE_FILE

Every request is forwarded to Consul (one upstream connection per request). A `PUT /v1/txn` whose body holds
every word of MODE_FILE's second line is answered, after Consul applied it, with HTTP 500 "rpc error making
call: EOF" (what a client sees when the leader it wrote through dies after replicating): when the first line
of MODE_FILE is "always", every time; "once", the first time only. No MODE_FILE: a plain proxy. Prints
"lied N" to stdout each time it lies.

First line "hold": the answer to a blocking read (a GET with `index=`) whose path holds every word of the
second line is kept back until the mode changes (at most 30 s): a watcher's feed that does not move, while its
other reads are answered. Every GET without `index=`, and each key a read-only transaction lists, is printed
as "read PATH" (what a watcher read directly). "hold-slow": the same, and such a read whose path holds every
word is answered 1.5 s late (a slow leader). "hold-slow-txn": the same, but only transactions are late (the
reads sent to the leader's own address), not a GET (e.g. a `?stale` read of the nearest server).

First line "hold-lists": every listing (a GET with `recurse`, blocking or not) whose path holds every word of
the second line is kept back until the mode changes (at most 30 s): a watcher's feed that never answers, not
even its first listing; transactions (a read of several prefixes, the plugins' reads and writes) pass.

First line "hold-status": each `GET /v1/status/leader` (who leads) is kept back until the mode changes (at most
30 s), and "status held" is printed when one is.
"""

import http.client
import json
import socketserver
import sys
import threading

LISTEN_IP, LISTEN_PORT, UP_IP, UP_PORT, MODE_FILE = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), \
    sys.argv[5]
lies = 0
lock = threading.Lock()


def mode():
    try:
        with open(MODE_FILE) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return None, []
    return (lines[0] if lines else None), (lines[1].split() if len(lines) > 1 else [])


def should_lie(method, path, body):
    global lies
    how, words = mode()
    if how not in ("once", "always") or method != "PUT" or not path.startswith("/v1/txn"):
        return False
    if not all(w.encode() in body for w in words):
        return False
    with lock:
        if how == "once" and lies > 0:
            return False
        lies += 1
        print(f"lied {lies}", flush=True)
    return True


def direct_reads(method, path, body):
    """What a request reads at once (not a blocking read), as /v1/kv paths: a GET without `index=`, or each
    key of a transaction that only reads (a watcher's read of several prefixes in one request)."""
    if method == "GET" and "index=" not in path:
        return [path]
    if method != "PUT" or not path.startswith("/v1/txn"):
        return []
    try:
        ops = json.loads(body)
        kv = [op["KV"] for op in ops]
    except (ValueError, KeyError, TypeError):
        return []
    if not kv or any(op.get("Verb") not in ("get", "get-tree") for op in kv):
        return []
    return [f"/v1/kv/{op['Key']}" for op in kv]


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            line = self.rfile.readline()
            if not line or not line.strip():
                return
            method, path, _ = line.decode().split(" ", 2)
            headers = {}
            while True:
                h = self.rfile.readline()
                if not h or h in (b"\r\n", b"\n"):
                    break
                k, v = h.decode().split(":", 1)
                headers[k.strip().lower()] = v.strip()
            body = self.rfile.read(int(headers.get("content-length", "0")))
            if method == "GET" and path.startswith("/v1/status/leader") and mode()[0] == "hold-status":
                print("status held", flush=True)
                for _ in range(600):
                    if mode()[0] != "hold-status":
                        break
                    threading.Event().wait(0.05)
            up = http.client.HTTPConnection(UP_IP, UP_PORT, timeout=30)
            fwd = {k: v for k, v in headers.items() if k in ("x-consul-token", "content-type")}
            up.request(method, path, body=body or None, headers=fwd)
            r = up.getresponse()
            data = r.read()
            status, reason = r.status, r.reason
            extra = ""
            if r.getheader("X-Consul-Index"):
                extra = f"X-Consul-Index: {r.getheader('X-Consul-Index')}\r\n"
            up.close()
            reads = direct_reads(method, path, body)
            for p in reads:
                print(f"read {p}", flush=True)
            how, words = mode()
            late = how == "hold-slow" or (how == "hold-slow-txn" and method == "PUT")
            if late and any(all(w in p for w in words) for p in reads):
                threading.Event().wait(1.5)
            held = 0
            while method == "GET" and held < 600:
                how, words = mode()
                if not all(w in path for w in words):
                    break
                if not (how in ("hold", "hold-slow", "hold-slow-txn") and "index=" in path) and \
                        not (how == "hold-lists" and "recurse" in path):
                    break
                threading.Event().wait(0.05)
                held += 1
            if should_lie(method, path, body):
                status, reason, data, extra = 500, "Internal Server Error", b"rpc error making call: EOF", ""
            self.wfile.write(f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(data)}\r\n{extra}\r\n".encode())
            self.wfile.write(data)
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    with Server((LISTEN_IP, LISTEN_PORT), Handler) as s:
        print("ready", flush=True)
        s.serve_forever()
