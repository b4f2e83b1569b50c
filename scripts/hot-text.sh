#!/usr/bin/env bash
# Writes cmake/hot-text.ld, the list of code the plugins run and constants they read (issue 17: peak RSS; see
# cmake/static.cmake). Builds the programs as scripts/bench.sh does plus linker maps, runs bench/driver.py's
# start-up, ADD/DEL and memory figures (2 calls each) with every plugin under valgrind's lackey, keeps each
# process's distinct code and data addresses (bench/memtrace.cpp), and turns them into input-section patterns
# (bench/hot_text.py). Each round traces twice: overlay and gwbridge running the IPAM in their process (the IPAM
# beside them is a symlink to the same build), then overlay-ipam on its own. Two rounds, the second with the
# first list linked in (merged string literals are attributed to whichever copy the linker kept). Run it after
# changes that move much code (a stale list only packs less); commit the result. Needs root (the figures run
# in network namespaces). Environment: OVL_HOT_BUILD_DIR (default <repo>/build-hot), OVL_HOT_ROUNDS (2),
# OVL_HOT_KEEP=1 keeps the work directory, OVL_HOT_ARGS (extra hot_text.py arguments, e.g. --largest 20).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${OVL_HOT_BUILD_DIR:-$top/build-hot}
rounds=${OVL_HOT_ROUNDS:-2}
[ "$(id -u)" = 0 ] || { echo "hot-text: needs root (network namespaces)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "hot-text: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=ON -DOVL_TESTS=OFF \
  -DOVL_LINK_MAP=ON >/dev/null
work=$(mktemp -d /tmp/ovl-hot-text.XXXXXX)
[ "${OVL_HOT_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
g++ -O2 -o "$work/memtrace" "$top/bench/memtrace.cpp"
progs=(overlay overlay-ipam gwbridge)

# A lackey wrapper for program $2 of round directory $1 (the binary it runs is $1/real/$2).
wrapper() {
  local dir=$1 b=$2 hi
  hi=0
  while read -r vaddr memsz; do
    (( vaddr + memsz > hi )) && hi=$(( vaddr + memsz ))
  done < <(readelf -lW "$dir/real/$b" | awk '$1 == "LOAD" { print $3, $6 }')
  hi=$(printf %x "$hi")
  cat <<SH
#!/bin/sh
t=$dir/traces/$b.\$\$
mkfifo "\$t.fifo"
"$work/memtrace" "\$t.fifo" "\$t.trace" 400000 $hi &
valgrind --tool=lackey --trace-mem=yes -q --log-file="\$t.fifo" "$dir/real/$b" "\$@"
rc=\$?
wait
rm -f "\$t.fifo"
exit \$rc
SH
}

# Traces one round with the current build; its binaries and maps are kept in $work/r<round>/real.
trace_round() {
  local dir=$work/r$1 pass b
  mkdir -p "$dir/real" "$dir/traces" "$dir/inproc" "$dir/alone"
  for b in "${progs[@]}"; do cp "$build/bin/$b" "$build/bin/$b.map" "$dir/real/"; done
  for pass in inproc alone; do
    for b in "${progs[@]}"; do
      if { [ $pass = inproc ] && [ "$b" != overlay-ipam ]; } || { [ $pass = alone ] && [ "$b" = overlay-ipam ]; }; then
        wrapper "$dir" "$b" > "$dir/$pass/$b"
        chmod +x "$dir/$pass/$b"
      else
        ln -s "$dir/real/$b" "$dir/$pass/$b"
      fi
    done
    python3 "$top/bench/driver.py" --bin "$dir/$pass" -n 2 --only 1,2,3 --out "$dir/$pass.md" \
      > "$dir/$pass.log" 2>&1 || { echo "hot-text: the traced run failed; its log:" >&2; tail -30 "$dir/$pass.log" >&2
                                   exit 1; }
  done
}

args=()
for r in $(seq 1 "$rounds"); do
  cmake --build "$build" -j"$(nproc)"
  trace_round "$r"
  for b in "${progs[@]}"; do
    args+=(--binary "$work/r$r/real/$b" --traces "$work/r$r/traces/$b".*.trace)
  done
  python3 "$top/bench/hot_text.py" --out "$top/cmake/hot-text.ld" ${OVL_HOT_ARGS:-} "${args[@]}"
done
