"""The scale scenario's figures as text: the terminal table, the "Scale" section of docs/benchmarks.md and
its plot (gnuplot). The figures themselves come from bench/scale_report.py.

    print(text(res)); write_section(res, "docs/benchmarks.md", "benchmarks-scale.png"); plot(res, png)
"""

import os
import shutil
import subprocess
import tempfile

from report import SCALE_BEGIN, SCALE_END, med, pct
from scale_report import NCPU, ms


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
        ("  share of those first requests sent on to the members (the watcher's fallback after arp.floodAfterMs)",
         _n(f.get("arp_request_sent_on", float("nan")), "{:.2f}"), "", ""),
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
                    f"{p['own_cpu'] / (p['span'] * NCPU) * 100:.0f}% / {p['machine_busy'] * 100:.0f}% / "
                    + (f"{p['machine_stolen'] * 100:.0f}%" if "machine_stolen" in p else "-")))
    return out


PHASE_HDR = ("phase", "wall s", "calls", "plugin requests (time in Consul p50 / p99 ms)", "watcher wakeups",
             "resolver wakeups",
             "CPU s: plugins / watchers / resolvers / Consul",
             "CPU used: scenario / whole machine / stolen by the hypervisor")



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


HOW = """How each figure is measured (bench/scale_report.py and bench/scale_cluster.py have the details):
- **Hosts**: network namespaces on one underlay switch, each with its own node config, stateDir, `overlay watch`
  and `overlay-resolver`, and a helper that exec's the plugins (overlay with overlay-ipam, Consul store) as a
  runtime does; a 3-server Consul cluster in three more namespaces; every container is an empty namespace.
  Everything shares the machine's 2 CPUs (and the machine ran other work too: the last column of the phase
  table gives the scenario's own CPU use, the whole machine's, and the share the hypervisor gave to other
  machines: steal slows every figure and varies between runs). The underlay hosts' ARP entries are
  pinned: one kernel's neighbour table is shared by all namespaces and would overflow (the last row checks it).
- **Phases**: idle (3 hosts and their daemons only, one call at a time: the baseline); add (bursts of
  parallel ADDs on distinct hosts); foreign (two hosts join and leave a network no other host has); rest
  (no calls; every host counts the VXLAN frames it sends, by what they carry); steady (one ADD at a time
  on the full cluster, a new peer on a member host, then its DEL); churn (DEL, then ADD again, of a share
  of the containers, in bursts); del (everything, in bursts).
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
         f"{o['probe_share']:.0%} of ADDs, Consul leader: {_leader(ex)}, health mesh "
         f"{'off' if o.get('no_health') else 'on'}. Machine: {res['machine']}.", "",
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
    return [(row[0],) + tuple(ms(v) for v in row[1:]) for row in out]


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
