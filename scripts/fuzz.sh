#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with g++ + ASan/UBSan + coverage into their own build dir and
# runs each for a bounded time on its committed corpus. Fails on any crash, leak, timeout or OOM; the
# reproducer is left as <build>/artifacts/<target>/crash-* : fix the bug, then copy the file into
# tests/fuzz/corpus/<target>/ as a regression input.
#
#   scripts/fuzz.sh [TARGET...]        default: every target
#   FUZZ_SECONDS=20   seconds per target        FUZZ_BUILD_DIR=<src>/build-fuzz   FUZZ_JOBS=2
#   FUZZ_MERGE=1      also merge new interesting inputs into the committed corpus (minimized)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$src/build-fuzz}
secs=${FUZZ_SECONDS:-20}
jobs=${FUZZ_JOBS:-2}
all=(netconf cni_args result consul_json ipam_config dns_query miss_reports)
targets=("${@:-${all[@]}}")

extra=()
# Until the top-level CMakeLists.txt adds tests/fuzz itself, wire it in for this build only.
if ! grep -q 'tests/fuzz' "$src/CMakeLists.txt"; then
  extra+=("-DCMAKE_PROJECT_INCLUDE=$src/tests/fuzz/wire.cmake")
fi
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DOVL_SANITIZE=ON -DOVL_FUZZ=ON -DOVL_TESTS=OFF \
  -DOVL_SKIP=tools/overlayctl -DCMAKE_CXX_FLAGS=-O1 "${extra[@]}" >/dev/null
cmake --build "$build" -j"$jobs" --target $(printf 'fuzz_%s ' "${targets[@]}")

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in "${targets[@]}"; do
  corpus="$src/tests/fuzz/corpus/$t"
  work="$build/work/$t"
  art="$build/artifacts/$t/"
  mkdir -p "$work" "$art"
  echo "== fuzz_$t for ${secs}s"
  if ! "$build/fuzz/fuzz_$t" -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
      -use_value_profile=1 -print_final_stats=1 -artifact_prefix="$art" "$work" "$corpus" \
      >"$build/fuzz_$t.log" 2>&1; then
    echo "!! fuzz_$t FAILED: see $build/fuzz_$t.log and $art" >&2
    tail -40 "$build/fuzz_$t.log" >&2
    status=1
    continue
  fi
  grep -E '^stat::number_of_executed_units|^stat::new_units_added|cov: ' "$build/fuzz_$t.log" | tail -3
  if [ "${FUZZ_MERGE:-0}" = 1 ]; then
    "$build/fuzz/fuzz_$t" -merge=1 -max_len=8192 "$corpus" "$work" >/dev/null 2>&1
  fi
done
exit $status
