#!/usr/bin/env bash
# The test command: installs what is needed, builds, and runs every test.
#   1. unit and netns tests under AddressSanitizer + UndefinedBehaviorSanitizer (scripts/sanitize.sh)
#   2. every libFuzzer target for a bounded time on its committed corpus (scripts/fuzz.sh)
#   3. the whole suite with ctest: unit, netns, fuzz-corpus replay and end-to-end (its summary ends the output),
#      without the benchmarks (label bench; scripts/bench.sh runs them)
# Extra arguments go to the final ctest and select a part, e.g. `scripts/test.sh -L unit` or `-R overlay`: then
# only that part runs (stages 1 and 2 are left out). OVL_TEST_FAST=1 leaves them out of a full run too;
# OVL_TEST_FAST=0 keeps them with extra arguments.
set -euo pipefail
# A skipped e2e test fails the run (tests/e2e/ovltest/runner.py): a missing tool must not turn into a green
# run. OVL_NO_SKIP=0 allows skips, e.g. on a machine where scripts/setup.sh cannot install everything.
export OVL_NO_SKIP=${OVL_NO_SKIP:-1}
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
fast=${OVL_TEST_FAST:-$(( $# > 0 ))}
if [ "$fast" != 1 ]; then
  echo "== sanitizers (ASan + UBSan): unit and netns tests"
  "$top/scripts/sanitize.sh"
  echo "== fuzzing: ${FUZZ_SECONDS:=20} s per target"
  FUZZ_SECONDS=$FUZZ_SECONDS "$top/scripts/fuzz.sh"
fi
build=${OVL_BUILD_DIR:-$top/build}
echo "== build and test suite"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
exec ctest --output-on-failure --timeout 900 -LE bench "$@"
