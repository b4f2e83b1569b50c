#!/usr/bin/env bash
# Writes cmake/hot-text.ld, the list of code the plugins run (issue 17: peak RSS; see cmake/static.cmake).
# Builds the programs as scripts/bench.sh does plus linker maps, runs bench/driver.py's start-up, ADD/DEL and
# memory figures (2 calls each) with every plugin under valgrind's callgrind, and turns the functions the
# profiles executed into input-section patterns (bench/hot_text.py). Run it after changes that move much code
# (a stale list only packs less); commit the result. Needs root (the figures run in network namespaces).
# Environment: OVL_HOT_BUILD_DIR (default <repo>/build-hot).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${OVL_HOT_BUILD_DIR:-$top/build-hot}
[ "$(id -u)" = 0 ] || { echo "hot-text: needs root (network namespaces)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "hot-text: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=ON -DOVL_TESTS=OFF \
  -DOVL_LINK_MAP=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
work=$(mktemp -d /tmp/ovl-hot-text.XXXXXX)
[ "${OVL_HOT_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
mkdir "$work/bin" "$work/cg"
progs=(overlay overlay-ipam gwbridge)
for b in "${progs[@]}"; do
  printf '#!/bin/sh\nexec valgrind --tool=callgrind -q --demangle=no --callgrind-out-file=%s/%s.%%p %s "$@"\n' \
    "$work/cg" "$b" "$build/bin/$b" > "$work/bin/$b"
  chmod +x "$work/bin/$b"
done
python3 "$top/bench/driver.py" --bin "$work/bin" -n 2 --only 1,2,3 --out "$work/figures.md" > "$work/driver.log" 2>&1 || {
  echo "hot-text: the profiled run failed; its log:" >&2; tail -30 "$work/driver.log" >&2; exit 1; }
args=()
for b in "${progs[@]}"; do
  args+=(--binary "$build/bin/$b" --profiles "$work"/cg/"$b".*)
done
python3 "$top/bench/hot_text.py" --out "$top/cmake/hot-text.ld" ${OVL_HOT_ARGS:-} "${args[@]}"
