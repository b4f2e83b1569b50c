#!/usr/bin/env python3
"""Writes cmake/hot-text.ld: the code our programs run, first and together (issue 17, peak RSS).

A static binary's text is mapped from the page cache, and the kernel maps it in 64 KiB blocks around each
page a program touches (fault-around): a VERSION run of overlay executes about 200 KiB of code spread over
5 MiB of text and so had 1.9 MiB of it resident. Placing the functions that runs execute at the start of the
text packs them into a few blocks.

Input: callgrind profiles of the programs (scripts/hot-text.sh runs bench/driver.py with every plugin under
callgrind) and, for each program, the linker map and symbols of the build they ran (OVL_LINK_MAP=ON writes
<binary>.map). Output: a linker script that GNU ld inserts before .text, listing input sections:
  *libc.a:malloc.o(.text)                       an archive member without function sections
  *(.text._ZN3ovl2kv14loadNodeConfigEv .text._ZN3ovl2kv14loadNodeConfigEv.*)
                                                a function section of ours or of libstdc++, whatever the
                                                object (LTO partitions have temporary names) and whatever the
                                                clone suffix GCC gives it (.lto_priv.0, .constprop.1, .isra.0)
A pattern that matches nothing in a program changes nothing, so one list serves all programs and a list older
than the code only packs less. Usage:
  hot_text.py --out cmake/hot-text.ld --binary BIN/overlay --profiles DIR/overlay.* [--binary ... --profiles ...]
"""
import argparse
import bisect
import re
import subprocess
import sys

CLONE = re.compile(r"(\.(lto_priv|constprop|isra|part|cold|localalias)(\.\d+)?)+$")


def text_sections(mapfile):
    """Input sections placed in the .text-like output sections: [(addr, size, name, file)] sorted."""
    out, inside, pending = [], False, None
    for line in open(mapfile, encoding="utf-8", errors="replace"):
        if re.match(r"^\.text(\.ovl_hot)?(\s|$)", line):
            inside = True
            continue
        if inside and re.match(r"^\.\S", line):
            inside = False
        if not inside:
            continue
        m = re.match(r"^ (\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
        if m:
            out.append((int(m[2], 16), int(m[3], 16), m[1], m[4].strip()))
            pending = None
            continue
        m = re.match(r"^ (\.text\S*)\s*$", line)
        if m:
            pending = m[1]
            continue
        m = re.match(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
        if m and pending:
            out.append((int(m[1], 16), int(m[2], 16), pending, m[3].strip()))
            pending = None
    return sorted(s for s in out if s[1] > 0)


def symbols(binary):
    names = {}
    nm = subprocess.run(["nm", binary], capture_output=True, text=True, check=True).stdout
    for line in nm.splitlines():
        p = line.split()
        if len(p) == 3 and p[1] in "tTWiI":
            names.setdefault(p[2], []).append(int(p[0], 16))
    return names


def executed(profile, names):
    """(kind, addresses) of the functions a profile ran (callgrind names them, or gives an address); kind is
    "add", "version" or "other" (DEL, CHECK, the watcher) by the entry points it ran."""
    addrs, fns = [], set()
    for line in open(profile, encoding="utf-8", errors="replace"):
        m = re.match(r"^c?fn=\(\d+\) (.+)$", line)
        if not m:
            continue
        n = m[1].strip()
        fns.add(n)
        if n.startswith("0x"):
            addrs.append(int(n, 16))
        else:
            addrs += names.get(n.split("'")[0], [])
    text = " ".join(fns)
    if re.search(r"6cmd(Del|Check|Gc|Status)E|watchMain|resolverMain", text):
        kind = "other"
    elif "6cmdAddE" in text:
        kind = "add"
    else:
        kind = "version"
    return kind, addrs


# glibc picks a string function's variant (AVX2, EVEX, ...) for the CPU at start-up, and valgrind's CPU is
# not the machine's: a member like memmove-avx-unaligned-erms.o stands for all of memmove's variants.
IFUNC_FAMILY = re.compile(r"^(mem\w*|str\w*|wcs\w*|wmem\w*|stp\w*|raw\w*)-[a-z0-9-]+\.o$")
# What valgrind hides: static glibc sets up the vDSO (which valgrind does not map) at start-up.
ALWAYS = ["*libc.a:dl-object.o(.text)", "*libc.a:dl-lookup.o(.text)", "*libc.a:setup-vdso.o(.text)",
          "*crt1.o(.text)", "*crti.o(.text)", "*crtbeginT.o(.text)"]


def pattern(name, file):
    m = re.match(r"^(.*/)?([^/(]+\.a)\((.+)\)$", file)
    if m:  # an archive member: exactly this section of it, or its family's variants
        f = IFUNC_FAMILY.match(m[3]) if m[2] == "libc.a" else None
        if f:
            return f"*libc.a:{f[1]}-*.o(.text .text.*)"
        return f"*{m[2]}:{m[3]}({name})"
    if not name.startswith(".text."):
        base = file.split("/")[-1]
        return None if "ltrans" in base else f"*{base}({name})"
    base = CLONE.sub("", name)
    return f"*({base} {base}.*)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--binary", action="append", default=[])
    ap.add_argument("--profiles", action="append", nargs="+", default=[])
    ap.add_argument("--largest", type=int, default=0, help="print the N largest sections run, per binary")
    o = ap.parse_args()
    if len(o.binary) != len(o.profiles):
        sys.exit("hot_text: one --profiles list per --binary")
    runs = {}  # pattern -> {"n": profiles that ran it, "version": {programs}, "add": {programs}}
    for binary, profiles in zip(o.binary, o.profiles):
        prog = binary.rsplit("/", 1)[-1]
        secs = text_sections(binary + ".map")
        if not secs:
            sys.exit(f"hot_text: no .text input sections in {binary}.map (built with OVL_LINK_MAP=ON?)")
        starts = [s[0] for s in secs]
        names = symbols(binary)
        ran = {}
        for prof in profiles:
            kind, addrs = executed(prof, names)
            hit = set()
            for a in addrs:
                i = bisect.bisect_right(starts, a) - 1
                if i >= 0 and secs[i][0] <= a < secs[i][0] + secs[i][1]:
                    hit.add(i)
            for i in hit:
                ran[i] = ran.get(i, 0) + 1
                p = pattern(secs[i][2], secs[i][3])
                if p:
                    r = runs.setdefault(p, {"n": 0, "version": set(), "add": set(), "other": set()})
                    r["n"] += 1
                    r[kind].add(prog)
        size = sum(secs[i][1] for i in ran)
        print(f"hot_text: {binary}: {len(ran)} input sections run, {size // 1024} KiB of "
              f"{sum(s[1] for s in secs) // 1024} KiB of text ({len(profiles)} profiles)", file=sys.stderr)
        for i in sorted(ran, key=lambda i: -secs[i][1])[:o.largest]:
            print(f"  {secs[i][1] // 1024:5d} KiB, {ran[i]} runs: {secs[i][2]} {secs[i][3]}", file=sys.stderr)
    for p in ALWAYS:
        runs.setdefault(p, {"n": 1, "version": {"overlay-ipam"}, "add": set(), "other": set()})

    # What every start-up runs (VERSION) first; then what ADDs run, the IPAM's first (every ADD runs it:
    # in-process in overlay and gwbridge), then overlay's, then gwbridge's, so that each program's ADD finds
    # its code in one stretch; then DEL, CHECK and the daemons. Within each, what more runs executed first.
    def key(p):
        r = runs[p]
        if r["version"]:
            group = 0
        elif r["add"]:
            group = 1 if "overlay-ipam" in r["add"] else 2 if "overlay" in r["add"] else 3
        else:
            group = 4
        return (group, -r["n"], p)
    lines = sorted(runs, key=key)
    if not lines:
        sys.exit("hot_text: the profiles ran nothing that maps to the binaries' sections")
    with open(o.out, "w") as f:
        f.write("/* Written by scripts/hot-text.sh (bench/hot_text.py); do not edit by hand. The input sections\n"
                "   that profiled runs of the plugins executed, placed first so that they share few pages\n"
                "   (issue 17: peak RSS). cmake/static.cmake links every static program with it. */\n")
        f.write("SECTIONS\n{\n  .text.ovl_hot :\n  {\n")
        for p in lines:
            f.write(f"    {p}\n")
        f.write("  }\n}\nINSERT BEFORE .text;\n")
    print(f"hot_text: {len(lines)} patterns -> {o.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
