"""Figures of the scale scenario (bench/scale.py): per-phase accounting and the figures compared with issue
18's targets (bench/scale_render.py prints them and writes the docs section and plot).

How each figure is measured:
- ADD/DEL latency: the helper's wall time around the plugin's exec (posix_spawn to wait4), per call.
- Consul requests per ADD/DEL: the plugins' server's (cs1) request log over the ADD (DEL) phases, divided
  by the calls made in them (see bench/scale_cluster.py for how roles are kept apart).
- Convergence / name propagation: from the ADD's return (the helper's stamp) to the first ICMP echo reply
  from, and the first A answer at 127.0.0.11 in, a random old member of the network on another host
  (bench/probes.py; echo requests and queries every 2 ms).
- Wakeups: blocking queries of a host's watcher (cs2) or resolver (cs3) that returned on a change (not by
  their wait time); CPU: utime+stime from /proc/PID/stat; voluntary context switches of all threads.
- Broadcast copies: VXLAN frames carrying the ARP packet, counted on the sending host's eth0.
- Flood/FDB/neighbour entries: `bridge -j fdb show` and `ip -j neigh show` in every host after the bursts.
"""

import os
import time
from collections import Counter

from report import machine, med, pct

ADD_PHASES, DEL_PHASES = ("add", "churn-add"), ("churn-del", "del")
NCPU = os.cpu_count() or 1


# --- accounting ---------------------------------------------------------------------------------------
def _blocking(reqs, host_of):
    per = {}
    for r in reqs:
        h = per.setdefault(host_of[r.client], {"changes": 0, "timeouts": 0, "other": 0})
        h["timeouts" if r.timed_out else "changes" if r.blocking else "other"] += 1
    return per


def summarize_phase(name, scen, reqs, c0, c1, wall, span):
    """One phase: calls, the plugins' Consul requests, each daemon's wakeups, CPU and switches, Consul's CPU,
    and how busy the whole machine was (other work on the machine included)."""
    host_of = scen.cl.host_of_ip()
    ops = [op for op in scen.ops if op["phase"] == name]
    plugin = reqs.get("plugins", [])
    daemons = {}
    for h, roles in c1["daemons"].items():
        for role, (cpu, sw) in roles.items():
            cpu0, sw0 = c0["daemons"].get(h, {}).get(role, (0.0, 0))
            daemons.setdefault(h, {})[role] = {"cpu": cpu - cpu0, "switches": sw - sw0}
    consul = {s: c1["consul"][s] - c0["consul"].get(s, 0.0) for s in c1["consul"]}
    plugin_cpu = sum(op["cpu"] for op in ops)
    daemon_cpu = sum(d["cpu"] for roles in daemons.values() for d in roles.values())
    busy = c1["machine"][0] - c0["machine"][0]
    total = c1["machine"][1] - c0["machine"][1]
    return {
        "wall": wall, "span": span,
        "ops": dict(Counter(op["verb"] for op in ops if op["ok"])),
        "failed": sum(not op["ok"] for op in ops),
        "ops_by_host": dict(Counter(op["host"] for op in ops if op["ok"])),
        "plugin_requests": len(plugin),
        "plugin_kinds": dict(Counter(f"{r.method} {r.endpoint}" for r in plugin)),
        "plugin_request_ms": [ms(pct([r.latency for r in plugin], 50)), ms(pct([r.latency for r in plugin], 99))],
        "watcher": _blocking(reqs.get("watcher", []), host_of),
        "resolver": _blocking(reqs.get("resolver", []), host_of),
        "daemons": daemons,
        "consul_cpu": consul,
        "plugin_cpu": plugin_cpu,
        "own_cpu": plugin_cpu + daemon_cpu + sum(consul.values()),
        "machine_busy": busy / total if total else float("nan"),
        "machine_stolen": (c1["machine"][2] - c0["machine"][2]) / total if total else float("nan"),
        "arp_table_fulls": c1["arp_table_fulls"] - c0["arp_table_fulls"],
        "backlog_drops": c1["backlog_drops"] - c0["backlog_drops"],
    }


def address_check(containers):
    ips = [c.ip for c in containers]
    return {"live": len(ips), "distinct": len(set(ips)), "duplicates": sorted(ip for ip, n in Counter(ips).items() if n > 1)}


def broadcast_sample(op, at_observer, at_new):
    """VXLAN copies of the ARP request for the new address sent by the observer's host, and of the new
    container's gratuitous ARP sent by its own host."""
    ip = op["ip"]
    req = sum(a["n"] for a in at_observer["arp"] if a["op"] == 1 and a["tpa"] == ip)
    garp = sum(a["n"] for a in at_new["arp"] if a["spa"] == ip and a["tpa"] == ip)
    return {"ip": ip, "arp_request_copies": req, "garp_copies": garp, "probe": op.get("probe")}


# --- figures ------------------------------------------------------------------------------------------
def _ok(ops, phases, verb):
    return [op for op in ops if op["phase"] in phases and op["verb"] == verb and op["ok"]]


def _probe_values(ops, key):
    vals = [op["probe"].get(key) for op in ops if op.get("probe")]
    return [v for v in vals if v is not None], sum(v is None for v in vals)


def _per_remote(phases, names, role, key):
    """Mean and max over hosts of (a daemon's figure over the phases) / (calls made on the other hosts)."""
    names = [n for n in names if n in phases]
    per_host = []
    hosts = set()
    for n in names:
        hosts |= set(phases[n]["daemons"])
    for h in sorted(hosts):
        remote = sum(sum(phases[n]["ops"].values()) - phases[n]["ops_by_host"].get(h, 0) for n in names)
        if remote <= 0:
            continue
        if key == "changes":
            val = sum(phases[n][role].get(h, {}).get("changes", 0) for n in names)
        else:
            val = sum(phases[n]["daemons"].get(h, {}).get(role, {}).get(key, 0) for n in names)
        per_host.append(val / remote)
    return (sum(per_host) / len(per_host), max(per_host)) if per_host else (float("nan"), float("nan"))


def _daemon_figures(ph):
    """{"<role>_<key>_<mode>": (mean, max)}: wakeups ("changes"), CPU ms and switches per call made on other
    hosts, in the bursts of ADDs ("bursts") and one call at a time on the full cluster ("steady")."""
    out = {}
    for mode, names in (("bursts", ADD_PHASES), ("steady", ("steady",))):
        for role in ("watcher", "resolver"):
            for key in ("changes", "cpu", "switches"):
                v = _per_remote(ph, names, role, key)
                out[f"{role}_{key}_{mode}"] = [x * 1000 for x in v] if key == "cpu" else list(v)
    return out


def _foreign(phases, extra, role):
    f = extra.get("foreign")
    if not f or "foreign" not in phases:
        return float("nan"), float("nan")
    ph = phases["foreign"]
    vals = [ph[role].get(h, {}).get("changes", 0) / f["calls"] for h in ph["daemons"] if h not in f["hosts"]]
    return (sum(vals) / len(vals), max(vals)) if vals else (float("nan"), float("nan"))


def results(scen):
    """Everything a run produced, with its figures (JSON-serialisable)."""
    res = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(),
           "options": {k: v for k, v in vars(scen.o).items() if k not in ("json", "md", "plot", "from_json")},
           "phases": scen.phases, "bursts": scen.bursts, "extra": scen.extra, "ops": scen.ops}
    return refresh(res)


def refresh(res):
    """res with its figures and verdict computed (again) from its calls, phases and observations."""
    res["figures"] = figures(res["options"], res["ops"], res["phases"], res["extra"])
    f, ex = res["figures"], res["extra"]
    addr = [ex.get("addresses", {}), ex.get("addresses_after_churn", {})]
    res["ok"] = (f["failed_calls"] == 0 and f["left_keys"] == 0 and f["left_hosts"] == 0
                 and all(a.get("live") == a.get("distinct") for a in addr))
    return res


def _rest(ph):
    """At rest on the full cluster: Consul CPU per second (all servers), and per host and minute the
    watcher's / resolver's CPU ms and blocking-query returns."""
    p = ph.get("rest")
    if not p or not p["span"]:
        return {}
    span, hosts = p["span"], max(1, len(p["daemons"]))
    out = {"consul_cpu_per_s": sum(p["consul_cpu"].values()) / span}
    for role in ("watcher", "resolver"):
        cpu = sum(d.get(role, {}).get("cpu", 0) for d in p["daemons"].values())
        returns = sum(v["changes"] + v["timeouts"] for v in p[role].values())
        out[f"{role}_cpu_ms_per_min"] = cpu * 1000 * 60 / span / hosts
        out[f"{role}_returns_per_min"] = returns * 60 / span / hosts
    return out


def _rest_vxlan(ex):
    """{kind: VXLAN frames a host sent per second at rest, mean over hosts}."""
    caps = list(ex.get("rest_vxlan", {}).values())
    out = {}
    for c in caps:
        for kind, n in c["kinds"].items():
            out[kind] = out.get(kind, 0.0) + n / c["secs"] / len(caps)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def figures(o, ops, ph, ex):
    idle_add, idle_del = _ok(ops, ("idle-add",), "ADD"), _ok(ops, ("idle-del",), "DEL")
    adds, dels = _ok(ops, ADD_PHASES, "ADD"), _ok(ops, DEL_PHASES, "DEL")
    steady_add, steady_del = _ok(ops, ("steady",), "ADD"), _ok(ops, ("steady",), "DEL")
    conv, conv_fail = _probe_values(adds, "ping")
    dns, dns_fail = _probe_values(adds, "dns")
    idle_conv, _ = _probe_values(idle_add, "ping")
    member_conv, _ = _probe_values([op for op in adds if not op.get("join")], "ping")
    join_conv, _ = _probe_values([op for op in adds if op.get("join")], "ping")
    steady_conv, _ = _probe_values(steady_add, "ping")
    steady_dns, _ = _probe_values(steady_add, "dns")

    def reqs(names, verb):
        n = sum(ph[x]["ops"].get(verb, 0) for x in names if x in ph)
        return sum(ph[x]["plugin_requests"] for x in names if x in ph) / n if n else float("nan")
    kern = list(ex.get("kernel", {}).values())
    rest = _rest(ph)
    left = ex.get("leftovers", {"keys": ["?"], "hosts": {}})
    bc = ex.get("broadcast", [])
    f = {
        "idle_add_ms": [_q(idle_add, 50), _q(idle_add, 99)], "idle_del_ms": [_q(idle_del, 50), _q(idle_del, 99)],
        "add_ms": [_q(adds, 50), _q(adds, 99)], "del_ms": [_q(dels, 50), _q(dels, 99)],
        "idle_add_cpu_ms": ms(med([op["cpu"] for op in idle_add])), "add_cpu_ms": ms(med([op["cpu"] for op in adds])),
        "steady_add_ms": [_q(steady_add, 50), _q(steady_add, 99)],
        "steady_del_ms": [_q(steady_del, 50), _q(steady_del, 99)],
        "steady_convergence_ms": [ms(pct(steady_conv, 50)), ms(pct(steady_conv, 99))],
        "steady_names_ms": [ms(pct(steady_dns, 50)), ms(pct(steady_dns, 99))],
        "convergence_member_ms": [ms(pct(member_conv, 50)), ms(pct(member_conv, 99)), len(member_conv)],
        "convergence_join_ms": [ms(pct(join_conv, 50)), ms(pct(join_conv, 99)), len(join_conv)],
        "burst_cpu_floor_ms": ms(med([op["cpu"] for op in adds])) * o["burst"] / NCPU if adds else float("nan"),
        "add_p99_over_idle_p50": _q(adds, 99) / _q(idle_add, 50) if idle_add else float("nan"),
        "requests_per_add": reqs(ADD_PHASES, "ADD"), "requests_per_del": reqs(DEL_PHASES, "DEL"),
        "requests_per_add_idle": reqs(("idle-add",), "ADD"), "requests_per_del_idle": reqs(("idle-del",), "DEL"),
        "convergence_ms": [ms(pct(conv, 50)), ms(pct(conv, 99))], "convergence_n": len(conv),
        "convergence_failed": conv_fail, "convergence_idle_ms": [ms(pct(idle_conv, 50)), ms(pct(idle_conv, 99))],
        "names_ms": [ms(pct(dns, 50)), ms(pct(dns, 99))], "names_n": len(dns), "names_failed": dns_fail,
        **_daemon_figures(ph),
        "watcher_wakeups_foreign": _foreign(ph, ex, "watcher"),
        "resolver_wakeups_foreign": _foreign(ph, ex, "resolver"),
        "arp_request_copies": med([b["arp_request_copies"] for b in bc]) if bc else float("nan"),
        "garp_copies": med([b["garp_copies"] for b in bc]) if bc else float("nan"),
        # The watcher's fallback (arp.floodAfterMs) sends a request on when no answer came in time.
        "arp_request_sent_on": (sum(b["arp_request_copies"] > 0 for b in bc) / len(bc)) if bc else float("nan"),
        "flood_per_host": _mean_max(kern, "flood"), "fdb_remote_per_host": _mean_max(kern, "fdb_remote"),
        "neigh_per_host": _mean_max(kern, "neigh"),
        "consul_cpu_s": sum(sum(p["consul_cpu"].values()) for p in ph.values()),
        "consul_cpu_ms_per_add": _consul_per(ph, ADD_PHASES),
        "consul_cpu_ms_per_call_steady": _consul_per(ph, ("steady",)),
        "consul_cpu_ms_per_call_steady_net": _consul_per(ph, ("steady",), rest.get("consul_cpu_per_s", 0.0)),
        "rest": rest,
        "rest_vxlan_per_host_s": _rest_vxlan(ex),
        "daemons_cpu_s": sum(sum(d.get("cpu", 0) for r in p["daemons"].values() for d in r.values())
                             for p in ph.values()),
        "left_keys": len(left["keys"]), "left_hosts": len(left["hosts"]),
        "failed_calls": sum(not op["ok"] for op in ops),
        "arp_table_fulls": sum(p["arp_table_fulls"] for p in ph.values()),
        "backlog_drops": ({n: p["backlog_drops"] for n, p in ph.items() if p["backlog_drops"]}
                          if all("backlog_drops" in p for p in ph.values()) else None),
    }
    return f


def _q(ops, p):
    return ms(pct([op["secs"] for op in ops], p))


def ms(v):
    return v * 1000 if v == v else v


def _mean_max(rows, key):
    vals = [r[key] for r in rows]
    return (sum(vals) / len(vals), max(vals)) if vals else (float("nan"), float("nan"))


def _consul_per(ph, names, background_per_s=0.0):
    """Consul's CPU (all three servers) per plugin call over the phases, in ms; less background_per_s (Consul's
    CPU per second at rest) over the phases' time when given."""
    n = sum(sum(ph[x]["ops"].values()) for x in names if x in ph)
    cpu = sum(sum(ph[x]["consul_cpu"].values()) - background_per_s * ph[x]["span"] for x in names if x in ph)
    return cpu * 1000 / n if n else float("nan")
