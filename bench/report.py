"""Statistics, the table (terminal and docs/benchmarks.md) and the IPAM scaling plot (gnuplot)."""

import math
import os
import platform
import shutil
import subprocess
import tempfile
import time

# The Scale section of docs/benchmarks.md is written by bench/scale.py between these markers; render()
# keeps it when the other figures are written again (see carry_scale_section).
SCALE_BEGIN, SCALE_END = "<!-- scale:begin -->", "<!-- scale:end -->"


def pct(xs, p):
    """Nearest-rank percentile; nan for no data."""
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = max(0, min(len(xs) - 1, math.ceil(p / 100 * len(xs)) - 1))
    return xs[k]


def med(xs):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def p90(xs):
    return pct(xs, 90)


def _fmt(v, unit):
    if v != v:  # nan
        return "-"
    if unit == "ms":
        return f"{v * 1000:.2f}" if v < 0.01 else f"{v * 1000:.1f}"
    if unit == "KiB":
        return f"{v / 1024:.1f} MiB"
    if unit == "Gb/s":
        return f"{v:.2f}"
    return f"{v:.1f}"


def _cell(xs, unit):
    if not xs:
        return ""
    if len(xs) == 1:
        return _fmt(xs[0], unit)
    return f"{_fmt(med(xs), unit)} / {_fmt(p90(xs), unit)}"


def make_row(section, label, ours, theirs, target, unit, higher, kind, abs_target):
    """(section, label, ours, theirs, ratio, target, status, n)."""
    n = f"{len(ours)}" + (f"+{len(theirs)}" if theirs and kind == "pair" else "")
    o_cell = _cell(ours, unit)
    t_cell = _cell(theirs, unit)
    ratio, tgt, status = "", "", ""
    if abs_target is not None:
        tgt = f"<= {abs_target * 1000:.0f} ms" if abs_target < 1 else f"<= {abs_target:.0f} s"
        if ours:
            status = "met" if med(ours) <= abs_target else "MISSED"
        else:
            status = "no data"
    elif ours and theirs:
        r = med(ours) / med(theirs) if med(theirs) else float("nan")
        ratio = f"{r:.2f}x"
        if target is not None:
            tgt = (">= " if higher else "<= ") + f"{target}x"
            ok = r >= target if higher else r <= target
            status = "met" if ok else "MISSED"
    elif target is not None:
        tgt = (">= " if higher else "<= ") + f"{target}x"
        status = "no data"
    return (section, label, o_cell, t_cell, ratio, tgt, status, n)


def machine():
    def out(*argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
        except OSError:
            return ""
    model = ""
    for line in out("lscpu").splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    mem = ""
    for line in out("free", "-m").splitlines():
        if line.startswith("Mem:"):
            mem = f"{int(line.split()[1]) / 1024:.1f} GiB RAM"
    return f"{out('nproc')} CPUs ({model}), {mem}, Linux {out('uname', '-r')} {platform.machine()}"


def render(b, o, elapsed, failed):
    L = []
    L.append("# Benchmarks\n")
    L.append("Written by `scripts/bench.sh` (issue 8); do not edit by hand. "
             f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {elapsed / 60:.1f} min, "
             f"{'quick mode, ' if o.quick else ''}{o.n} containers per figure.\n")
    L.append(f"Machine: {machine()}. The CPUs were shared with other work during the run.\n")
    if o.build_info:
        L.append(f"Build: {o.build_info}\n")
    L.append("Every figure runs inside simulated hosts (network namespaces on a 198.51.100.0/24 underlay, made by "
             "tests/e2e/ovltest). Plugins are exec'd as a runtime does (CNI_* environment, config on stdin, "
             "prevResult for chained plugins, DEL in reverse order with the cached result) by one helper process "
             "per host (bench/helper.py), so no `ip netns exec` cost is measured. Ours and the reference "
             "(/usr/lib/cni, Go) alternate call by call. Cells are `median / p90`; ratio = ours / theirs on "
             "medians (for IPAM scaling: time at N leases / time at 0 leases).\n")
    hdr = "| figure | measure | ours | reference | ratio | target | result | n |"
    sep = "|---|---|---|---|---|---|---|---|"
    L.append(hdr)
    L.append(sep)
    for r in b.rows:
        L.append("| " + " | ".join(str(x) for x in r) + " |")
    L.append("")
    L.append("Units: latencies in ms, memory in MiB (/usr/bin/time %M: ru_maxrss of the plugin and the children it waited for, measured in passes of its own), throughput as "
             "stated. 2d has no reference chain of its own; bridge+host-local is shown for scale.\n")
    if b.scaling:
        L.append("## IPAM scaling\n")
        L.append("![IPAM ADD/DEL latency against leases held](benchmarks-ipam.png)\n")
        L.append("| store | leases | ADD median | ADD p90 | DEL median | DEL p90 |")
        L.append("|---|---|---|---|---|---|")
        for st, lv, a, a9, d, d9 in b.scaling:
            L.append(f"| {st} | {lv} | {a * 1000:.2f} | {a9 * 1000:.2f} | {d * 1000:.2f} | {d9 * 1000:.2f} |")
        L.append("")
        L.append("Leases are pre-filled directly (files in host-local's layout for the file store and host-local; "
                 "one Consul transaction per 32 leases), with the allocation cursor after the last one.\n")
    if b.breakdown:
        L.append(b.breakdown)
    if b.notes:
        L.append("## Notes\n")
        for n in b.notes:
            L.append(f"- {n}")
        L.append("")
    if failed:
        L.append("## Figures that did not complete\n")
        for k, e in failed:
            L.append(f"- figure {k}: {e.splitlines()[0] if e else ''}")
        L.append("")
    missed = [r for r in b.rows if r[6] == "MISSED"]
    if missed:
        L.append("## Missed targets\n")
        for r in missed:
            L.append(f"- {r[0]}: {r[1]} ({r[4] or r[2]} against {r[5]})")
        L.append("")
    extra = os.path.join(os.path.dirname(os.path.abspath(__file__)), "where-time-goes.md")
    if os.path.exists(extra):
        L.append(open(extra).read())
    return "\n".join(L) + "\n"


def plot(scaling, png):
    if not scaling or not shutil.which("gnuplot"):
        return
    stores = sorted({s for s, *_ in scaling})
    with tempfile.TemporaryDirectory() as d:
        files = []
        for st in stores:
            path = os.path.join(d, f"{st}.dat")
            with open(path, "w") as f:
                for s, lv, a, a9, dl, d9 in scaling:
                    if s == st:
                        f.write(f"{lv} {a * 1000} {dl * 1000}\n")
            files.append((st, path))
        plots = []
        for st, path in files:
            plots.append(f"'{path}' using 1:2 with linespoints title '{st} ADD'")
            plots.append(f"'{path}' using 1:3 with linespoints dashtype 2 title '{st} DEL'")
        script = "\n".join([
            "set terminal png size 900,520",
            f"set output '{png}'",
            "set title 'IPAM latency against leases held (median)'",
            "set xlabel 'leases held'",
            "set ylabel 'ms'",
            "set logscale y",
            "set key outside right",
            "set grid",
            "set xtics (\"0\" 0, \"1k\" 1000, \"5k\" 5000, \"10k\" 10000, \"20k\" 20000)",
            "plot " + ", ".join(plots),
        ])
        subprocess.run(["gnuplot"], input=script, text=True, check=False, capture_output=True)


def carry_scale_section(path, text):
    """text, followed by the Scale section of the file at path when it has one."""
    try:
        old = open(path).read()
    except OSError:
        return text
    if SCALE_BEGIN not in old or SCALE_END not in old:
        return text
    sec = old[old.index(SCALE_BEGIN):old.index(SCALE_END) + len(SCALE_END)]
    return text.rstrip("\n") + "\n\n" + sec + "\n"
