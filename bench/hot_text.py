#!/usr/bin/env python3
"""Writes cmake/hot-text.ld: the code our programs run and the constants they read, first and together
(issue 17, peak RSS).

A static binary's text and read-only data are mapped from the page cache, and the kernel maps them in 64 KiB
blocks around each page a program touches (fault-around): a VERSION run of overlay executed about 200 KiB of
code spread over 5 MiB of text and so had 1.9 MiB of it resident; a Consul-backed ADD read 9 KiB of constants
spread over all eleven 64 KiB blocks of .rodata. Placing what runs touch at the start of each packs it into a
few blocks.

Input: traces of the programs (scripts/hot-text.sh runs bench/driver.py with every plugin under valgrind's
lackey; bench/memtrace.cpp keeps the distinct code and data addresses of each process) and, for each program,
the linker map and symbols of the build they ran (OVL_LINK_MAP=ON writes <binary>.map). Output: a linker
script that GNU ld inserts before .text, .rodata and .data.rel.ro, listing input sections:
  *libc.a:malloc.o(.text)                       an archive member without function sections
  *(.text._ZN3ovl2kv14loadNodeConfigEv .text._ZN3ovl2kv14loadNodeConfigEv.*)
                                                a function section of ours or of libstdc++, whatever the
                                                object (LTO partitions have temporary names) and whatever the
                                                clone suffix GCC gives it (.lto_priv.0, .constprop.1, .isra.0)
  *libc.a:C-ctype.o(.rodata)                    an archive member's constants
  *.ltrans.o(.rodata.str1.1)                    our string literals (all LTO partitions')
A pattern that matches nothing in a program changes nothing, so one list serves all programs and a list older
than the code only packs less. Merged string sections make one trace attribute a string to whichever object's
copy the linker kept, so scripts/hot-text.sh traces twice, the second time with the first list linked in.
Usage:
  hot_text.py --out cmake/hot-text.ld --binary BIN/overlay --traces DIR/overlay.* [--binary ... --traces ...]
"""
import argparse
import bisect
import re
import subprocess
import sys

CLONE = re.compile(r"(\.(lto_priv|constprop|isra|part|cold|localalias)(\.\d+)?)+$")


def input_sections(mapfile, outputs):
    """Input sections placed in the named output sections: [(addr, size, name, file, output)] sorted."""
    out, current, pending = [], None, None
    for line in open(mapfile, encoding="utf-8", errors="replace"):
        m = re.match(r"^(\.\S+)(\s|$)", line)
        if m:
            current, pending = m[1], None
            continue
        if re.match(r"^\S", line):
            current = None
        if current not in outputs:
            continue
        m = re.match(r"^ (\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
        if m:
            out.append((int(m[2], 16), int(m[3], 16), m[1], m[4].strip(), current))
            pending = None
            continue
        m = re.match(r"^ (\.\S+)\s*$", line)
        if m:
            pending = m[1]
            continue
        m = re.match(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
        if m and pending:
            out.append((int(m[1], 16), int(m[2], 16), pending, m[3].strip(), current))
            pending = None
    return sorted(s for s in out if s[1] > 0)


def functions(binary):
    """(addresses, names) of the binary's function symbols, sorted by address."""
    syms = []
    nm = subprocess.run(["nm", "-n", binary], capture_output=True, text=True, check=True).stdout
    for line in nm.splitlines():
        p = line.split()
        if len(p) == 3 and p[1] in "tTWiI":
            syms.append((int(p[0], 16), p[2]))
    return [a for a, _ in syms], [n for _, n in syms]


def executed(trace, funcs):
    """(kind, code addresses, data accesses (address, size)) of one traced process (bench/memtrace.cpp's lines); kind
    is "add", "version" or "other" (DEL, CHECK, the watcher) by the entry points it ran."""
    code, data = [], []
    for line in open(trace):
        if line[0] == "I":
            code.append(int(line[2:], 16))
        else:
            a, size = line[2:].split()
            data.append((int(a, 16), int(size)))
    starts, names = funcs
    fns = {names[i] for i in {bisect.bisect_right(starts, a) - 1 for a in code} if i >= 0}
    text = " ".join(fns)
    if re.search(r"6cmd(Del|Check|Gc|Status)E|watchMain|resolverMain", text):
        kind = "other"
    elif "6cmdAddE" in text:
        kind = "add"
    else:
        kind = "version"
    return kind, code, data


# glibc picks a string function's variant (AVX2, EVEX, ...) for the CPU at start-up, and valgrind's CPU is
# not the machine's: a member like memmove-avx-unaligned-erms.o stands for all of memmove's variants.
IFUNC_FAMILY = re.compile(r"^(mem\w*|str\w*|wcs\w*|wmem\w*|stp\w*|raw\w*)-[a-z0-9-]+\.o$")
# What valgrind hides: static glibc sets up the vDSO (which valgrind does not map) at start-up, and reads the
# CPU's cache descriptors (valgrind's CPU answers differently).
ALWAYS = ["*libc.a:dl-object.o(.text)", "*libc.a:dl-lookup.o(.text)", "*libc.a:setup-vdso.o(.text)",
          "*libc.a:dl-setup_hash.o(.text)", "*crt1.o(.text)", "*crti.o(.text)", "*crtbeginT.o(.text)"]
ALWAYS_DATA = ["*libc.a:dl-support.o(.data.rel.ro .data.rel.ro.*)", "*libc.a:libc-start.o(.rodata .rodata.*)"]
# Data input sections named after no symbol: the object's constants, string literals and relocated tables.
GENERIC_DATA = re.compile(r"^\.(rodata|data\.rel\.ro)(\.local)?(\.(str|cst)\d+(\.\d+)?)?$")


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


def data_pattern(name, file):
    m = re.match(r"^(.*/)?([^/(]+\.a)\((.+)\)$", file)
    if m:
        return f"*{m[2]}:{m[3]}({name})"
    base = file.split("/")[-1]
    if GENERIC_DATA.match(name):  # LTO partitions have temporary names: all of ours, then
        return f"*.ltrans.o({name})" if "ltrans" in base else f"*{base}({name})"
    name = CLONE.sub("", name)
    return f"*({name} {name}.*)"


TEXT = (".text", ".text.ovl_hot")
RODATA = (".rodata", ".rodata.ovl_hot")
RELRO = (".data.rel.ro", ".data.rel.ro.ovl_hot")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--binary", action="append", default=[])
    ap.add_argument("--traces", action="append", nargs="+", default=[])
    ap.add_argument("--largest", type=int, default=0, help="print the N largest sections run, per binary")
    o = ap.parse_args()
    if len(o.binary) != len(o.traces):
        sys.exit("hot_text: one --traces list per --binary")
    # pattern -> {"n": traces that touched it, "version"/"add"/"other": {programs}}, per output section
    runs = {TEXT: {}, RODATA: {}, RELRO: {}}
    for binary, traces in zip(o.binary, o.traces):
        prog = binary.rsplit("/", 1)[-1]
        secs = input_sections(binary + ".map", TEXT + RODATA + RELRO)
        if not any(s[4] in TEXT for s in secs):
            sys.exit(f"hot_text: no .text input sections in {binary}.map (built with OVL_LINK_MAP=ON?)")
        starts = [s[0] for s in secs]
        funcs = functions(binary)
        ran = {}
        for trace in traces:
            kind, code, data = executed(trace, funcs)
            hit = set()
            for a, size in [(a, 1) for a in code] + data:
                i = bisect.bisect_right(starts, a) - 1  # every section the access overlaps
                i += i < 0 or secs[i][0] + secs[i][1] <= a
                while i < len(secs) and secs[i][0] < a + size:
                    hit.add(i)
                    i += 1
            for i in hit:
                ran[i] = ran.get(i, 0) + 1
                out = next(k for k in runs if secs[i][4] in k)
                p = (pattern if out is TEXT else data_pattern)(secs[i][2], secs[i][3])
                if p:
                    r = runs[out].setdefault(p, {"n": 0, "version": set(), "add": set(), "other": set()})
                    r["n"] += 1
                    r[kind].add(prog)
        for out in runs:
            mine = [i for i in ran if secs[i][4] in out]
            print(f"hot_text: {binary}: {out[0]}: {len(mine)} input sections touched, "
                  f"{sum(secs[i][1] for i in mine) // 1024} KiB of {sum(s[1] for s in secs if s[4] in out) // 1024} "
                  f"KiB ({len(traces)} traces)", file=sys.stderr)
        for i in sorted(ran, key=lambda i: -secs[i][1])[:o.largest]:
            print(f"  {secs[i][1] // 1024:5d} KiB, {ran[i]} runs: {secs[i][2]} {secs[i][3]}", file=sys.stderr)
    for out, always in ((TEXT, ALWAYS), (RODATA, ALWAYS_DATA[1:]), (RELRO, ALWAYS_DATA[:1])):
        for p in always:
            runs[out].setdefault(p, {"n": 1, "version": {"overlay-ipam"}, "add": set(), "other": set()})

    # What every start-up runs (VERSION) first; then what ADDs run, the IPAM's first (every ADD runs it:
    # in-process in overlay and gwbridge), then overlay's, then gwbridge's, so that each program's ADD finds
    # its code in one stretch; then DEL, CHECK and the daemons. Within each, what more runs touched first.
    def order(table):
        def key(p):
            r = table[p]
            if r["version"]:
                group = 0
            elif r["add"]:
                group = 1 if "overlay-ipam" in r["add"] else 2 if "overlay" in r["add"] else 3
            else:
                group = 4
            return (group, -r["n"], p)
        return sorted(table, key=key)
    if not runs[TEXT]:
        sys.exit("hot_text: the traces ran nothing that maps to the binaries' sections")
    with open(o.out, "w") as f:
        f.write("/* Written by scripts/hot-text.sh (bench/hot_text.py); do not edit by hand. The input sections\n"
                "   that traced runs of the plugins executed or read, placed first so that they share few pages\n"
                "   (issue 17: peak RSS). cmake/static.cmake links every static program with it. The read-only\n"
                "   data starts on a page of its own: inserted before .rodata, it would otherwise join the\n"
                "   executable segment. The relocated tables stay inside RELRO (before .data.rel.ro). */\n")
        for out, head, where in ((TEXT, ".text.ovl_hot :", ".text"),
                                 (RODATA, ".rodata.ovl_hot ALIGN(CONSTANT (MAXPAGESIZE)) :", ".rodata"),
                                 (RELRO, ".data.rel.ro.ovl_hot :", ".data.rel.ro")):
            f.write(f"SECTIONS\n{{\n  {head}\n  {{\n")
            for p in order(runs[out]):
                f.write(f"    {p}\n")
            f.write(f"  }}\n}}\nINSERT BEFORE {where};\n")
    print(f"hot_text: {', '.join(f'{len(runs[k])} {k[0]}' for k in runs)} patterns -> {o.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
