"""The driver's side of bench/helper.py: one helper process per simulated host, one JSON request per line.

    hp = Helper(topology, host)          # started inside the host's netns, stopped by hp.close()
    r = need(hp.call({"op": "chain", ...}), "ADD on h1")
    hp.send(req); ...; r = hp.recv()     # several hosts at once: send to each, then collect
"""

import json
import os
import subprocess
import sys

HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "helper.py")


class Helper:
    def __init__(self, topo, host):
        self.host = host
        self.proc = topo.popen(host, sys.executable, HELPER, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=None, text=True, bufsize=1)

    def send(self, req):
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()

    def recv(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"helper on {self.host.name} died")
        return json.loads(line)

    def call(self, req):
        self.send(req)
        return self.recv()

    def close(self):
        try:
            self.send({"op": "quit"})
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            if f:
                f.close()


def need(resp, what):
    """resp when it reports success; else a RuntimeError naming `what` and the failing plugins' stderr."""
    if not resp.get("ok"):
        steps = list(resp.get("steps", []))
        for sub in resp.get("results", []) or []:
            steps += sub.get("steps", [])
        errs = " | ".join(s.get("err", "")[-800:] for s in steps if s.get("err") and s.get("rc"))
        raise RuntimeError(f"{what} failed: {resp.get('error', '')} {resp.get('out', '')} {errs} {resp.get('err', '')}")
    return resp
