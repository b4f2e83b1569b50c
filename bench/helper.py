#!/usr/bin/env python3
"""Per-host helper for the benchmark: started once per simulated host with
`ip netns exec HOST python3 bench/helper.py`, it reads one JSON request per line on stdin and answers one
JSON line on stdout. It spawns CNI plugins itself (posix_spawn, inside the host's netns), so the
`ip netns exec` cost is paid once per host and never lands in a measurement.

Requests ({"op": ...}):
  chain   run a list of plugins as a runtime runs a conflist (ADD in order, DEL in reverse with the
          cached result as prevResult); returns wall time, per-plugin time and peak RSS (children included)
  batch   several chains at once (threads), for concurrency figures
  exec    run a command (argv, optional stdin), returns rc/stdout/stderr/time
  probe   from a container's netns: first ping reply from it to an address and first DNS answer for a
          name there (bench/probes.py); a chain ADD with "probe" runs it as soon as the ADD returns
  capture_start / capture_stop   count the VXLAN frames (and the ARP packets in them) this host sends
  spawn   start a background command, returns its handle; wait waits for it
  http    an HTTP request (to Consul) from inside the host netns
  quit
"""

import json
import os
import selectors
import sys
import threading
import time
import urllib.request

import probes

_cache = {}  # (container id, ifname, chain name) -> the ADD result JSON, what libcni caches
_bg = {}
_captures = {}


def spawn(argv, env, stdin_bytes=b""):
    """Runs argv with env; returns (rc, stdout, stderr, seconds, maxrss_kib, cpu_seconds). maxrss and the CPU
    time (user + system) come from wait4: the child's and that of all the descendants it waited for."""
    r_in, w_in = os.pipe()
    r_out, w_out = os.pipe()
    r_err, w_err = os.pipe()
    fa = [(os.POSIX_SPAWN_DUP2, r_in, 0), (os.POSIX_SPAWN_DUP2, w_out, 1), (os.POSIX_SPAWN_DUP2, w_err, 2)]
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=fa)
    for fd in (r_in, w_out, w_err):
        os.close(fd)
    out, err = bytearray(), bytearray()
    sel = selectors.DefaultSelector()
    pending = stdin_bytes
    if pending:
        os.set_blocking(w_in, False)
        sel.register(w_in, selectors.EVENT_WRITE)
    else:
        os.close(w_in)
    sel.register(r_out, selectors.EVENT_READ, out)
    sel.register(r_err, selectors.EVENT_READ, err)
    open_fds = 2
    while open_fds:
        for key, ev in sel.select():
            if key.fd == w_in:
                try:
                    n = os.write(w_in, pending)
                except BrokenPipeError:
                    n = len(pending)
                pending = pending[n:]
                if not pending:
                    sel.unregister(w_in)
                    os.close(w_in)
                continue
            chunk = os.read(key.fd, 65536)
            if chunk:
                key.data.extend(chunk)
            else:
                sel.unregister(key.fd)
                os.close(key.fd)
                open_fds -= 1
    if pending:
        sel.unregister(w_in)
        os.close(w_in)
    sel.close()
    _, status, ru = os.wait4(pid, 0)
    t1 = time.perf_counter()
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace"), err.decode(errors="replace"), \
        t1 - t0, ru.ru_maxrss, ru.ru_utime + ru.ru_stime


def spawn_plugin(req, binary, env, data):
    """Spawns one plugin. With req["wrap"], through /usr/bin/time, whose %M is the ru_maxrss of the plugin
    and of the children it waited for: our own wait4 figure would include this helper's RSS, which a
    vfork-style spawn inherits until exec. Returns a step record."""
    argv = ["/usr/bin/time", "-f", "maxrss=%M", binary] if req.get("wrap") else [binary]
    rc, out, err, secs, _, cpu = spawn(argv, env, data)
    rss = None
    if req.get("wrap"):
        head, _, last = err.rstrip("\n").rpartition("\n")
        if last.startswith("maxrss="):
            rss = int(last[len("maxrss="):])
            err = head
        err = err.replace("Command exited with non-zero status", "")
    step = {"bin": os.path.basename(binary), "rc": rc, "secs": secs, "rss": rss, "cpu": cpu,
            "err": err[-3000:] if (rc or req.get("keep_err")) else ""}
    return step, rc, out


def run_chain(req):
    """req: cmd, cid, netns, ifname, args, env (extra), path (CNI_PATH), plugins [{bin, conf}], key."""
    cmd = req["cmd"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CNI_", "CONSUL_", "OVL_"))}
    env.update({"CNI_COMMAND": cmd, "CNI_CONTAINERID": req.get("cid", ""), "CNI_NETNS": req.get("netns", ""),
                "CNI_IFNAME": req.get("ifname", "eth0"), "CNI_ARGS": req.get("args", ""),
                "CNI_PATH": req.get("path", "")})
    env.update(req.get("env", {}))
    plugins = req["plugins"]
    key = (req.get("cid", ""), req.get("ifname", ""), req.get("key", ""))
    steps = []
    t0 = time.perf_counter()
    if cmd == "ADD":
        prev = None
        for p in plugins:
            conf = dict(p["conf"])
            if prev is not None:
                conf["prevResult"] = prev
            step, rc, out = spawn_plugin(req, p["bin"], env, json.dumps(conf).encode())
            steps.append(step)
            if rc != 0:
                return {"ok": False, "secs": time.perf_counter() - t0, "steps": steps, "out": out[-2000:],
                        "end": time.time()}
            prev = json.loads(out) if out.strip() else None
        _cache[key] = prev
        return {"ok": True, "secs": time.perf_counter() - t0, "steps": steps, "result": prev, "end": time.time()}
    prev = _cache.pop(key, None) if cmd == "DEL" else None
    ok = True
    outs = ""
    for p in (reversed(plugins) if cmd == "DEL" else plugins):
        conf = dict(p["conf"])
        if prev is not None and cmd != "VERSION":
            conf["prevResult"] = prev
        data = b"" if cmd == "VERSION" else json.dumps(conf).encode()
        step, rc, out = spawn_plugin(req, p["bin"], env, data)
        steps.append(step)
        if rc != 0:
            ok = False
            outs += out[-2000:]
    return {"ok": ok, "secs": time.perf_counter() - t0, "steps": steps, "out": outs, "end": time.time()}


def run_probe(req):
    """req: observer (a container netns path), ip and/or name, timeout, since (time.time() of the event,
    default now). Returns {"ping": s, "dns": s} after `since` (None: no answer within the timeout), the
    two probes running at once."""
    since = req.get("since") or time.time()
    out = {}
    jobs = {"ping": (probes.first_ping, req.get("ip")), "dns": (probes.first_answer, req.get("name"))}

    def one(key, fn, arg):
        try:
            t = fn(req["observer"], arg, timeout=req.get("timeout", 5.0))
            out[key] = None if t is None else t - since
        except OSError as e:
            out[key] = None
            out[key + "_error"] = str(e)
    threads = [threading.Thread(target=one, args=(k, fn, arg)) for k, (fn, arg) in jobs.items() if arg]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return dict(out, ok=True)


def run_probed_chain(req):
    """run_chain; then, for an ADD that succeeded and carries "probe": {observer, name, timeout}, the probes
    from the observer to the new address and name, timed from the moment the ADD returned."""
    res = run_chain(req)
    pr = req.get("probe")
    if pr and res["ok"] and req["cmd"] == "ADD" and res.get("result"):
        ip = res["result"]["ips"][0]["address"].split("/")[0]
        res["probe"] = run_probe(dict(pr, ip=ip, since=res["end"]))
    return res


def run_capture_start(req):
    cap = probes.Capture(req.get("ifname", "eth0"))
    _captures[id(cap)] = cap
    return {"ok": True, "id": id(cap)}


def run_capture_stop(req):
    cap = _captures.pop(req["id"], None)
    return dict(cap.stop(), ok=True) if cap else {"ok": False, "error": "no such capture"}


def run_batch(req):
    results = [None] * len(req["chains"])
    barrier = threading.Barrier(len(results))

    def one(i, r):
        barrier.wait()
        results[i] = run_probed_chain(r)

    threads = [threading.Thread(target=one, args=(i, r)) for i, r in enumerate(req["chains"])]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return {"ok": all(r["ok"] for r in results), "wall": time.perf_counter() - t0, "results": results}


def run_exec(req):
    env = dict(os.environ)
    env.update(req.get("env", {}))
    argv = req["argv"]
    if not os.path.isabs(argv[0]):
        for d in env.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(":"):
            if os.access(os.path.join(d, argv[0]), os.X_OK):
                argv = [os.path.join(d, argv[0])] + argv[1:]
                break
    rc, out, err, secs, rss, _ = spawn(argv, env, req.get("stdin", "").encode())
    return {"ok": rc == 0, "rc": rc, "out": out, "err": err, "secs": secs, "rss": rss, "end": time.time()}


def run_spawn(req):
    import subprocess
    env = dict(os.environ)
    env.update(req.get("env", {}))
    log = open(req.get("log", os.devnull), "w")
    p = subprocess.Popen(req["argv"], env=env, stdout=log, stderr=log, start_new_session=True)
    log.close()
    _bg[p.pid] = p
    return {"ok": True, "pid": p.pid}


def run_wait(req):
    p = _bg.pop(req["pid"], None)
    if p is None:
        return {"ok": False}
    if req.get("kill"):
        p.terminate()
    try:
        rc = p.wait(timeout=req.get("timeout", 30))
    except Exception:
        p.kill()
        rc = p.wait()
    return {"ok": True, "rc": rc}


def run_http(req):
    data = req.get("body")
    r = urllib.request.Request(req["url"], data=data.encode() if data is not None else None, method=req["method"])
    try:
        with urllib.request.urlopen(r, timeout=req.get("timeout", 30)) as resp:
            return {"ok": True, "status": resp.status, "body": resp.read().decode()}
    except urllib.error.HTTPError as e:
        return {"ok": False, "status": e.code, "body": e.read().decode()}


OPS = {"chain": run_probed_chain, "batch": run_batch, "exec": run_exec, "spawn": run_spawn, "wait": run_wait,
       "http": run_http, "probe": run_probe, "capture_start": run_capture_start, "capture_stop": run_capture_stop}


def main():
    for line in sys.stdin:
        req = json.loads(line)
        if req["op"] == "quit":
            break
        try:
            resp = OPS[req["op"]](req)
        except Exception as e:  # report, keep serving
            resp = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(resp) + "\n")
        sys.stdout.flush()
    for p in _bg.values():
        p.terminate()
    for cap in _captures.values():
        cap.stop()


if __name__ == "__main__":
    main()
