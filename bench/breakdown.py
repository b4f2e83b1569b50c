"""Where an ADD and a DEL spend their time (issue 17): the per-phase breakdown of figure 2, next to the kernel floor.

Our plugins append one JSON line per call to $OVL_CALL_REPORT (common/metrics/recorder.cpp): the call's own
elapsed time and the time it spent in store requests, netlink, nftables and its IPAM delegation. An IPAM run
in-process (cni/delegate.hpp) writes its own line just before its caller's; its time is inside the caller's
"ipam" phase, and its store and netlink time are its own (the caller's tally does not include them). The
helper's wall time per call (spawn to exit, every chain element) minus the plugins' own elapsed time is what
the process costs around the call: exec, dynamic linking, start-up and exit.
"""

import json
import os

from report import med

PHASES = ("store", "netlink", "nftables")


def calls(path):
    """The lines of one figure's report file, or [] when none were written."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def group(lines, verb, n):
    """The lines of `verb`, cut into n calls (each: nested IPAM lines, then their caller's)."""
    mine = [c for c in lines if c["verb"] == verb]
    per = len(mine) // n if n else 0
    return [mine[i * per:(i + 1) * per] for i in range(n)] if per else []


def split(call, wall_s):
    """One call's parts in ms: wall, process, each phase, the IPAM in-process, the rest; requests."""
    top = [c for c in call if c["plugin"] != "overlay-ipam"]
    nested = [c for c in call if c["plugin"] == "overlay-ipam"]
    ms = 1e-6
    elapsed = sum(c["elapsedNs"] for c in top) * ms
    parts = {"wall": wall_s * 1000, "process": wall_s * 1000 - elapsed}
    for p in PHASES:
        parts[p] = sum(c[f"{p}Ns"] for c in call) * ms
    parts["ipam"] = sum(c["elapsedNs"] for c in nested) * ms
    nested_phases = sum(c[f"{p}Ns"] for c in nested for p in PHASES) * ms
    top_accounted = sum(c[f"{p}Ns"] for c in top for p in PHASES + ("ipam",)) * ms
    parts["ipam_other"] = parts["ipam"] - nested_phases
    parts["other"] = elapsed - top_accounted
    parts["requests"] = sum(c["storeRequests"] for c in call)
    return parts


def summarize(label, title, path, walls, n):
    """Rows (title, verb, medians of each part) for one figure."""
    rows = []
    lines = calls(path)
    for verb, key in (("ADD", "ours_add"), ("DEL", "ours_del")):
        groups = group(lines, verb, n)
        if not groups or len(walls.get(key, [])) != len(groups):
            continue
        parts = [split(g, w) for g, w in zip(groups, walls[key])]
        rows.append((title, verb, {k: med([p[k] for p in parts]) for k in parts[0]}))
    return rows


def floor(out):
    """Medians (ms) of ovl-kfloor's JSON output."""
    d = json.loads(out)
    return {k: med(v) for k, v in d.items()}


def render(rows, fl):
    L = ["## Where an ADD and a DEL spend their time\n",
         "Medians over the calls of figure 2, in ms, from the plugins' own call reports ($OVL_CALL_REPORT). "
         "process: the helper's wall time less the plugins' own time (exec, start-up, exit); store: Consul "
         "requests (their count in the last column); IPAM: the IPAM run in-process, less its store and netlink "
         "time (which are in those columns); other: the rest of the plugins' own code (configuration, files, "
         "locks, the container's sysctls). Parts are medians each, so they need not add up to the wall time.\n",
         "| figure | verb | wall | process | store | netlink | nftables | IPAM | other | requests |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    for title, verb, p in rows:
        L.append(f"| {title} | {verb} | {p['wall']:.1f} | {p['process']:.1f} | {p['store']:.1f} | "
                 f"{p['netlink']:.1f} | {p['nftables']:.1f} | {p['ipam_other']:.1f} | {p['other']:.1f} | "
                 f"{p['requests']:.0f} |")
    L.append("")
    if fl:
        L.append(f"Kernel floor on the same host (bench/kfloor.cpp, same libraries, medians): a veth pair with its "
                 f"peer moved into a container namespace {fl['vethCreateMs']:.2f} ms, deleting it "
                 f"{fl['vethDeleteMs']:.2f} ms, one nftables transaction adding a map element (nfnl) {fl['nftCommitMs']:.2f} ms, "
                 f"one that deletes a table (the kernel waits for an RCU grace period) {fl.get('nftDestroyMs', float('nan')):.2f} ms.\n")
    return "\n".join(L)
