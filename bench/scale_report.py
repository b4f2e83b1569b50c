"""Figures of the scale scenario (bench/scale.py): per-phase accounting, the figures against issue 18's
targets, the terminal table, the "Scale" section of docs/benchmarks.md and its plot.

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
import shutil
import subprocess
import tempfile
import time
from collections import Counter

from report import SCALE_BEGIN, SCALE_END, machine, med, pct

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
        "plugin_request_ms": [_ms(pct([r.latency for r in plugin], 50)), _ms(pct([r.latency for r in plugin], 99))],
        "watcher": _blocking(reqs.get("watcher", []), host_of),
        "resolver": _blocking(reqs.get("resolver", []), host_of),
        "daemons": daemons,
        "consul_cpu": consul,
        "plugin_cpu": plugin_cpu,
        "own_cpu": plugin_cpu + daemon_cpu + sum(consul.values()),
        "machine_busy": busy / total if total else float("nan"),
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
        "idle_add_cpu_ms": _ms(med([op["cpu"] for op in idle_add])), "add_cpu_ms": _ms(med([op["cpu"] for op in adds])),
        "steady_add_ms": [_q(steady_add, 50), _q(steady_add, 99)],
        "steady_del_ms": [_q(steady_del, 50), _q(steady_del, 99)],
        "steady_convergence_ms": [_ms(pct(steady_conv, 50)), _ms(pct(steady_conv, 99))],
        "steady_names_ms": [_ms(pct(steady_dns, 50)), _ms(pct(steady_dns, 99))],
        "convergence_member_ms": [_ms(pct(member_conv, 50)), _ms(pct(member_conv, 99)), len(member_conv)],
        "convergence_join_ms": [_ms(pct(join_conv, 50)), _ms(pct(join_conv, 99)), len(join_conv)],
        "burst_cpu_floor_ms": _ms(med([op["cpu"] for op in adds])) * o["burst"] / NCPU if adds else float("nan"),
        "add_p99_over_idle_p50": _q(adds, 99) / _q(idle_add, 50) if idle_add else float("nan"),
        "requests_per_add": reqs(ADD_PHASES, "ADD"), "requests_per_del": reqs(DEL_PHASES, "DEL"),
        "requests_per_add_idle": reqs(("idle-add",), "ADD"), "requests_per_del_idle": reqs(("idle-del",), "DEL"),
        "convergence_ms": [_ms(pct(conv, 50)), _ms(pct(conv, 99))], "convergence_n": len(conv),
        "convergence_failed": conv_fail, "convergence_idle_ms": [_ms(pct(idle_conv, 50)), _ms(pct(idle_conv, 99))],
        "names_ms": [_ms(pct(dns, 50)), _ms(pct(dns, 99))], "names_n": len(dns), "names_failed": dns_fail,
        **_daemon_figures(ph),
        "watcher_wakeups_foreign": _foreign(ph, ex, "watcher"),
        "resolver_wakeups_foreign": _foreign(ph, ex, "resolver"),
        "arp_request_copies": med([b["arp_request_copies"] for b in bc]) if bc else float("nan"),
        "garp_copies": med([b["garp_copies"] for b in bc]) if bc else float("nan"),
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
    return _ms(pct([op["secs"] for op in ops], p))


def _ms(v):
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


# --- rendering ----------------------------------------------------------------------------------------
def _n(v, fmt="{:.1f}"):
    return "-" if v is None or v != v else fmt.format(v)


def _pair(v, fmt="{:.1f}"):
    return f"{_n(v[0], fmt)} / {_n(v[1], fmt)}"


def _modes(f, key, fmt):
    return "; ".join(f"{_n(f[f'watcher_{key}_{m}'][0], fmt)} / {_n(f[f'resolver_{key}_{m}'][0], fmt)}"
                     for m in ("bursts", "steady"))


def _check(ok):
    return "met" if ok else "MISSED"


def table(res):
    """(figure, measured, target, result) rows."""
    f, o, ex = res["figures"], res["options"], res["extra"]
    idle50 = f["idle_add_ms"][0]
    rows = [
        ("ADD latency, idle 3-host cluster, one at a time, p50 / p99 (ms)", _pair(f["idle_add_ms"]), "", ""),
        (f"ADD latency under load (bursts of {o['burst']}), p50 / p99 (ms)", _pair(f["add_ms"]),
         f"p99 <= 3x idle p50 ({_n(3 * idle50 if idle50 == idle50 else idle50, '{:.0f}')} ms)",
         _check(f["add_p99_over_idle_p50"] <= 3) + f" ({_n(f['add_p99_over_idle_p50'], '{:.1f}')}x)"),
        (f"  CPU floor of a burst here: {o['burst']} x plugin CPU per ADD / {NCPU} CPUs (ms)",
         _n(f["burst_cpu_floor_ms"]), "", ""),
        ("ADD latency one at a time on the full cluster, p50 / p99 (ms)", _pair(f["steady_add_ms"]),
         "", f"p99 = {_n(f['steady_add_ms'][1] / idle50 if idle50 else float('nan'), '{:.1f}')}x idle p50"),
        ("plugin CPU per ADD (overlay + overlay-ipam, user+sys), idle / under load, median (ms)",
         f"{_n(f['idle_add_cpu_ms'])} / {_n(f['add_cpu_ms'])}", "", ""),
        ("DEL latency, idle / under load, p50 (ms)", f"{_n(f['idle_del_ms'][0])} / {_n(f['del_ms'][0])}", "", ""),
        ("DEL latency under load, p99 (ms); one at a time on the full cluster, p50 / p99",
         f"{_n(f['del_ms'][1])}; {_pair(f['steady_del_ms'])}", "", ""),
        ("Consul requests per ADD (under load; idle)", f"{_n(f['requests_per_add'])} ({_n(f['requests_per_add_idle'])})",
         "<= 4", _check(f["requests_per_add"] <= 4)),
        ("Consul requests per DEL (under load; idle)", f"{_n(f['requests_per_del'])} ({_n(f['requests_per_del_idle'])})",
         "<= 3", _check(f["requests_per_del"] <= 3)),
        (f"convergence, ADD return -> first ping reply from an old member, p50 / p99 (ms; n={f['convergence_n']}"
         f"{', ' + str(f['convergence_failed']) + ' never' if f['convergence_failed'] else ''})",
         _pair(f["convergence_ms"]), "p99 <= 200 ms", _check(f["convergence_ms"][1] <= 200 and not f["convergence_failed"])),
        (f"  new peer on a member host / on a joining host, p50 / p99 (ms; n={f['convergence_member_ms'][2]}"
         f" / {f['convergence_join_ms'][2]})",
         f"{_pair(f['convergence_member_ms'])}; {_pair(f['convergence_join_ms'])}", "", ""),
        ("  one at a time on the full cluster; on the idle 3-host cluster, p50 / p99 (ms)",
         f"{_pair(f['steady_convergence_ms'])}; {_pair(f['convergence_idle_ms'])}", "", ""),
        (f"name visible on another host, p50 / p99 (ms; n={f['names_n']}"
         f"{', ' + str(f['names_failed']) + ' never' if f['names_failed'] else ''})",
         _pair(f["names_ms"]), "p99 <= 200 ms", _check(f["names_ms"][1] <= 200 and not f["names_failed"])),
        ("  one at a time on the full cluster, p50 / p99 (ms)", _pair(f["steady_names_ms"]), "", ""),
        ("wakeups per call on another host, watcher / resolver, mean over hosts: in bursts; one at a time",
         _modes(f, "changes", "{:.2f}"), "", ""),
        ("CPU per call on another host, watcher / resolver, mean over hosts (ms): in bursts; one at a time",
         _modes(f, "cpu", "{:.2f}"), "", ""),
        ("voluntary switches per call on another host, watcher / resolver, mean: in bursts; one at a time",
         _modes(f, "switches", "{:.1f}"), "", ""),
        ("watcher wakeups per change on a network the host does not have, mean / max",
         _pair(f["watcher_wakeups_foreign"], "{:.2f}"), "0", _check(f["watcher_wakeups_foreign"][1] == 0)),
        ("  resolver, same", _pair(f["resolver_wakeups_foreign"], "{:.2f}"), "", ""),
        ("broadcast copies per new peer (VXLAN copies of the first ARP request, median)",
         _n(f["arp_request_copies"], "{:.0f}"), "0 (answered locally)", _check(f["arp_request_copies"] == 0)),
        ("  VXLAN copies of the new container's gratuitous ARP (median)", _n(f["garp_copies"], "{:.0f}"), "", ""),
        ("VXLAN frames a host sends per second at rest, by what they carry (mean over hosts)",
         ", ".join(f"{k}: {v:.1f}" for k, v in f["rest_vxlan_per_host_s"].items()) or "0", "", ""),
        ("flood-list entries per host, mean / max", _pair(f["flood_per_host"]), "", ""),
        ("remote-MAC FDB entries per host (learned), mean / max", _pair(f["fdb_remote_per_host"]), "", ""),
        ("neighbour entries on ovx-*/ovbr-* per host, mean / max", _pair(f["neigh_per_host"]), "", ""),
        ("Consul CPU (3 servers): whole run (s); per ADD in bursts; per call one at a time, less the rest rate (ms)",
         f"{_n(f['consul_cpu_s'])}; {_n(f['consul_cpu_ms_per_add'])}; {_n(f['consul_cpu_ms_per_call_steady_net'])}",
         "", ""),
        (f"at rest ({o.get('rest', 0):.0f} s, no calls): Consul CPU (% of a CPU); per host-minute: watcher / "
         "resolver CPU ms, query returns",
         f"{_n(f['rest'].get('consul_cpu_per_s', float('nan')) * 100, '{:.0f}')}%; "
         f"{_n(f['rest'].get('watcher_cpu_ms_per_min', float('nan')))} / "
         f"{_n(f['rest'].get('resolver_cpu_ms_per_min', float('nan')))} ms, "
         f"{_n(f['rest'].get('watcher_returns_per_min', float('nan')))} / "
         f"{_n(f['rest'].get('resolver_returns_per_min', float('nan')))}", "", ""),
        ("all watchers and resolvers, CPU over the run (s)", _n(f["daemons_cpu_s"]), "", ""),
        ("one re-listing at full size: P/networks/ (watcher); P/attachments/ (resolver): keys, KiB",
         "; ".join(f"{k}, {b / 1024:.0f}" for k, b in (ex.get("listings", {}).get(p, [0, 0])
                                                       for p in ("networks", "attachments"))), "", ""),
        ("left after DEL: container keys; hosts with links/FDB/neighbour entries",
         f"{f['left_keys']}; {f['left_hosts']}", "0", _check(f["left_keys"] == 0 and f["left_hosts"] == 0)),
        ("failed plugin calls", str(f["failed_calls"]), "0", _check(f["failed_calls"] == 0)),
        ("kernel neighbour table full (all namespaces share it: a simulation limit), times during the phases",
         str(f["arp_table_fulls"]), "0 (else the figures above are not valid)", _check(f["arp_table_fulls"] == 0)),
        ("packets dropped by a full CPU input backlog (kernel-wide, other work included), by phase",
         "-" if f["backlog_drops"] is None else ", ".join(f"{n} {v}" for n, v in f["backlog_drops"].items()) or "0",
         "", "a lost ARP costs a 1 s retransmission"),
    ]
    return rows


def phase_rows(res):
    out = []
    for name, p in res["phases"].items():
        w = sum(v["changes"] for v in p["watcher"].values())
        r = sum(v["changes"] for v in p["resolver"].values())
        cpu_w = sum(d.get("watcher", {}).get("cpu", 0) for d in p["daemons"].values())
        cpu_r = sum(d.get("resolver", {}).get("cpu", 0) for d in p["daemons"].values())
        ops = ", ".join(f"{n} {v}" for v, n in sorted(p["ops"].items())) or "-"
        out.append((name, f"{p['wall']:.1f}", ops, f"{p['plugin_requests']} ({_pair(p['plugin_request_ms'])})", str(w), str(r),
                    f"{p['plugin_cpu']:.1f} / {cpu_w:.1f} / {cpu_r:.1f} / {sum(p['consul_cpu'].values()):.1f}",
                    f"{p['own_cpu'] / (p['span'] * NCPU) * 100:.0f}% / {p['machine_busy'] * 100:.0f}%"))
    return out


PHASE_HDR = ("phase", "wall s", "calls", "plugin requests (time in Consul p50 / p99 ms)", "watcher wakeups",
             "resolver wakeups",
             "CPU s: plugins / watchers / resolvers / Consul", "CPU used: scenario / whole machine")



def text(res):
    o = res["options"]
    lines = [f"scale: {o['hosts']} hosts, {o['containers']} containers, {o['networks']} networks, bursts of "
             f"{o['burst']}, churn {o['churn']:.0%}; Consul leader {_leader(res['extra'])}; total "
             f"{res['extra'].get('total_s', 0) / 60:.1f} min"]
    rows = table(res)
    w = max(len(r[0]) for r in rows)
    for r in rows:
        lines.append(f"  {r[0]:<{w}}  {r[1]:>22}  {r[2]:<28} {r[3]}")
    lines.append("")
    lines.append("  " + " | ".join(PHASE_HDR))
    for r in phase_rows(res):
        lines.append("  " + " | ".join(r))
    return "\n".join(lines)


def _md_table(hdr, rows):
    out = ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


HOW = """How each figure is measured (bench/scale_report.py has the details):
- **Hosts**: network namespaces on one underlay switch, each with its own node config, stateDir, `overlay watch`
  and `overlay-resolver`, and a helper that exec's the plugins (overlay with overlay-ipam, Consul store) as a
  runtime does; a 3-server Consul cluster in three more namespaces; every container is an empty namespace.
  Everything shares the machine's 2 CPUs (and the machine ran other work too: the last column of the phase
  table gives the scenario's own CPU use and the whole machine's). The underlay hosts' ARP entries are
  pinned: one kernel's neighbour table is shared by all namespaces and would overflow (the last row checks it).
- **Phases**: idle (3 hosts and their daemons only, one call at a time: the baseline); add (bursts of
  parallel ADDs on distinct hosts); foreign (two hosts join and leave a network no other host has); rest
  (no calls; every host counts the VXLAN frames it sends, by what they carry); steady (one ADD at a time on the full cluster, a new peer on a member host, then its
  DEL); churn (DEL, then ADD again, of a share of the containers, in bursts); del (everything, in bursts).
- **Latency**: wall time of the plugin's exec (spawn to wait4) in the helper; plugin CPU from wait4. "Under
  load" is every ADD of the bursts and of the churn (DELs: churn and final). The CPU floor of a burst is
  what its ADDs need of the 2 CPUs even with no waiting at all.
- **Consul requests**: counted by Consul. Every server logs each HTTP request (debug level); each role has
  its own server (the node configs list the same three servers, each role's first; the client stays with
  the first that answers), so one server's log is the plugins' requests, one the watchers', one the
  resolvers', and the client address names the host. The plugins' server is the leader: the watchers' and
  resolvers' blocking queries are forwarded to it, as through client agents (which role sits on the leader
  changes the daemons' cost on Consul about 2.5x: `--leader-role`).
- **Convergence / names**: from the ADD's return to the first echo reply to, and the first A answer from
  127.0.0.11 for the new name in, a random old member of the network on another host (sockets made in that
  container's namespace by the helper, a probe every 2 ms; no exec on the path), after a quarter of the ADDs.
  A "joining host" is one that the ADD makes a member of the network.
- **Wakeups**: blocking queries of a host's watcher or resolver that returned because the index changed
  (not at their wait time), per call made on other hosts; in bursts one return covers many changes.
  CPU from /proc/PID/stat, voluntary switches of all threads. "Foreign": wakeups of every other host per call.
- **Broadcast copies**: VXLAN frames carrying the ARP request for a new peer, counted on the pinging host's
  eth0 (AF_PACKET capture) when an old member on another host pings it first; likewise the new container's
  gratuitous ARP on its own host. Entries: `bridge -j fdb show` and `ip -j neigh show` on every host after
  the bursts. Leftovers: container keys in Consul (memberships, attachments, leases, owner indexes) and
  links, FDB and neighbour entries on every host after the last DEL."""


def _leader(ex):
    c = ex.get("consul", {})
    if not c:
        return "not recorded"
    role = next((r for r, s in c["servers"].items() if s == c["leader"]), "?")
    moved = "" if c.get("leader_at_end") == c["leader"] else f", then {c.get('leader_at_end')}"
    who = {"plugins": "plugins'", "watcher": "watchers'", "resolver": "resolvers'"}.get(role, role)
    return f"{c['leader']} (the {who} server{moved})"


def section(res, png):
    o, ex = res["options"], res["extra"]
    L = [SCALE_BEGIN, "## Scale", "",
         f"Written by `bench/scale.py` (issue 18; `scripts/bench.sh --only S`). Run: {res['when']}, "
         f"{ex.get('total_s', 0) / 60:.1f} min ({ex.get('setup_s', 0):.0f} s set-up, {ex.get('netns_s', 0):.0f} s "
         f"namespaces, {ex.get('cleanup_s', 0):.0f} s clean-up), {o['hosts']} hosts, {o['containers']} containers, "
         f"{o['networks']} networks, bursts of {o['burst']}, churn {o['churn']:.0%}, probes after "
         f"{o['probe_share']:.0%} of ADDs, Consul leader: {_leader(ex)}. Machine: {res['machine']}.", "",
         "What these figures mean at 1,000 hosts, what breaks first and what the design does about it: "
         "[scale.md](scale.md).", "", HOW, ""]
    L += _md_table(("figure", "measured", "target (issue 18)", "result"), table(res))
    L.append("")
    if png:
        L += [f"![ADD latency and convergence against containers]({png})", ""]
    L += _md_table(PHASE_HDR, phase_rows(res))
    L += ["", SCALE_END]
    return "\n".join(L) + "\n"


def write_section(res, path, png):
    """Puts the section into path, replacing the one there (the rest of the file stays as it is)."""
    old = open(path).read() if os.path.exists(path) else ""
    new = section(res, png)
    if SCALE_BEGIN in old and SCALE_END in old:
        a, b = old.index(SCALE_BEGIN), old.index(SCALE_END) + len(SCALE_END)
        text = old[:a] + new.rstrip("\n") + old[b:]
    else:
        text = old.rstrip("\n") + ("\n\n" if old else "") + new
    with open(path, "w") as f:
        f.write(text)


def plot_series(res, bins=10):
    """Rows (containers already there, ADD p50, ADD p99, CPU floor of the burst, convergence p50 and p99 for a
    new peer on a member host, convergence p50 on a joining host, name propagation p50 and p99), in ms, over
    the ADD phase in `bins` groups by the number of containers already there."""
    ops = [op for op in res["ops"] if op["phase"] == "add" and op["verb"] == "ADD" and op["ok"]]
    width = max(1, -(-res["options"]["containers"] // bins))
    out = []
    for b in range(bins):
        grp = [op for op in ops if b * width <= op["live"] < (b + 1) * width]
        if not grp:
            continue

        def probe(key, join):
            return [op["probe"][key] for op in grp
                    if op.get("probe") and op["probe"].get(key) is not None and bool(op.get("join")) == join]
        lat, member, joined = [op["secs"] for op in grp], probe("ping", False), probe("ping", True)
        names = probe("dns", False) + probe("dns", True)
        floor = med([op["cpu"] for op in grp]) * res["options"]["burst"] / NCPU
        out.append((b * width + width / 2, pct(lat, 50), pct(lat, 99), floor, pct(member, 50), pct(member, 99),
                    pct(joined, 50), pct(names, 50), pct(names, 99)))
    return [(row[0],) + tuple(_ms(v) for v in row[1:]) for row in out]


def plot(res, png):
    series = plot_series(res)
    if not series or not shutil.which("gnuplot"):
        return False
    with tempfile.TemporaryDirectory() as d:
        dat = os.path.join(d, "scale.dat")
        with open(dat, "w") as f:
            for row in series:
                f.write(" ".join("NaN" if v != v else f"{v:.3f}" for v in row) + "\n")
        o = res["options"]
        script = "\n".join([
            "set terminal png size 1100,560",
            f"set output '{png}'",
            "set multiplot layout 1,2",
            "set xlabel 'containers already running'",
            "set ylabel 'ms'",
            "set logscale y",
            "set key below",
            "set grid",
            f"set title 'ADD latency, bursts of {o['burst']} on {o['hosts']} hosts'",
            f"plot '{dat}' using 1:2 with linespoints title 'ADD p50', "
            f"'{dat}' using 1:3 with linespoints dashtype 2 title 'ADD p99', "
            f"'{dat}' using 1:4 with lines dashtype 3 title 'CPU floor of a burst'",
            "set title 'from ADD return to the first answer on another host'",
            f"plot '{dat}' using 1:5 with linespoints title 'ping, member host p50', "
            f"'{dat}' using 1:6 with linespoints dashtype 2 title 'ping, member host p99', "
            f"'{dat}' using 1:7 with points pointtype 7 title 'ping, joining host p50', "
            f"'{dat}' using 1:8 with linespoints title 'name p50', "
            f"'{dat}' using 1:9 with linespoints dashtype 2 title 'name p99'",
            "unset multiplot",
        ])
        p = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    return p.returncode == 0
