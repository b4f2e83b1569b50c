#!/usr/bin/env bash
# The benchmark command (issue 8): installs what is needed, makes an optimised build, and runs
# bench/driver.py, which prints the table and writes docs/benchmarks.md and docs/benchmarks-ipam.png.
#   scripts/bench.sh            full run (50 containers per figure, under 15 minutes, plus about 7 for S)
#   scripts/bench.sh --quick    10 per figure, for development
#   scripts/bench.sh --only 2,4 some figures (1 start-up, 2 ADD/DEL, 3 memory, 4 IPAM scaling,
#                               5 concurrency, 6 datapath, 7 convergence, P profile, S scale)
#   scripts/bench.sh --only S   the scale scenario of issue 18 (bench/scale.py: 50 hosts, 1,000 containers, 3-server
#                               Consul; with --quick 12 hosts, 120 containers); writes the "Scale" section of
#                               docs/benchmarks.md and docs/benchmarks-scale.png. A full run includes it.
# Then the benchmarks kept with the tests (tests/e2e/test_*_bench.py, ctest label "bench", which
# scripts/test.sh leaves out) run against the same binaries and print their figures.
# Environment: OVL_BENCH_BUILD_DIR (default <repo>/build-bench), OVL_BENCH_LTO=0 to build without LTO,
# OVL_BENCH_SKIP_SETUP=1 to skip scripts/setup.sh, OVL_BENCH_SKIP_BUILD=1 to use the existing build,
# OVL_BENCH_SUITE=0 to leave out the test-suite benchmarks, OVL_BENCH_SUITE=only to run nothing else,
# OVL_BENCH_SCALE_ARGS for more bench/scale.py options (e.g. "--hosts 20 --burst 10").
# Everything runs inside network namespaces; the root namespace is left alone.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${OVL_BENCH_BUILD_DIR:-$top/build-bench}
lto=${OVL_BENCH_LTO:-1}

[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespaces)" >&2; exit 1; }
[ "${OVL_BENCH_SKIP_SETUP:-0}" = 1 ] || "$top/scripts/setup.sh"

ipo=OFF
[ "$lto" = 1 ] && ipo=ON
if [ "${OVL_BENCH_SKIP_BUILD:-0}" != 1 ]; then
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=$ipo \
    -DOVL_TESTS=OFF ${OVL_BENCH_CMAKE_ARGS:-} >/dev/null
  cmake --build "$build" -j"$(nproc)"
fi
for b in overlay overlay-ipam gwbridge; do
  [ -x "$build/bin/$b" ] || { echo "bench: $build/bin/$b was not built" >&2; exit 1; }
done

info="CMAKE_BUILD_TYPE=Release, LTO (CMAKE_INTERPROCEDURAL_OPTIMIZATION) $ipo, $(c++ --version | head -1)"
suite=${OVL_BENCH_SUITE:-1}

# S is not a figure of driver.py: take it out of --only and run bench/scale.py for it.
args=() scale=1 quick=0 figures=""
while (($#)); do
  case "$1" in
    --only) figures=$2; shift 2; continue ;;
    --only=*) figures=${1#--only=} ;;
    --quick) quick=1; args+=("$1") ;;
    *) args+=("$1") ;;
  esac
  shift
done
if [ -n "$figures" ]; then
  scale=0
  rest=$(tr ',' '\n' <<<"$figures" | grep -vx 'S' | paste -sd, -) || true
  grep -qx 'S' < <(tr ',' '\n' <<<"$figures") && scale=1
  [ -n "$rest" ] && args+=(--only "$rest")
fi
if [ "$suite" != only ] && { [ -z "$figures" ] || [ -n "${rest:-}" ]; }; then
  python3 "$top/bench/driver.py" --bin "$build/bin" --build-info "$info" ${args[@]+"${args[@]}"}
fi
if [ "$suite" != only ] && [ "$scale" = 1 ]; then
  sizes=()
  [ "$quick" = 1 ] && sizes=(--hosts 12 --containers 120 --networks 3 --burst 12)
  # shellcheck disable=SC2086
  python3 "$top/bench/scale.py" --bin "$build/bin" ${sizes[@]+"${sizes[@]}"} ${OVL_BENCH_SCALE_ARGS:-} \
    --md "$top/docs/benchmarks.md" --plot "$top/docs/benchmarks-scale.png" --json "$build/scale.json"
fi
if [ "$suite" != 0 ]; then
  echo "== benchmarks of the test suite"
  modules=$(cd "$top/tests/e2e" && ls test_*_bench.py | sed 's/\.py$//')
  # shellcheck disable=SC2086
  (cd "$top/tests/e2e" && OVL_NO_SKIP=${OVL_NO_SKIP:-1} OVL_BIN_DIR="$build/bin" OVL_SRC_DIR="$top" /usr/bin/python3 -m ovltest.runner -v $modules)
fi
