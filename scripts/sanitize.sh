#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer: a separate Debug build (default <src>/build-asan) of
# everything, then the unit and netns tests (ctest -L "unit|netns"; netns tests need root). Any ASan
# report, leak or UB aborts the test that hit it, so ctest fails.
#
#   scripts/sanitize.sh [extra cmake args, e.g. -DOVL_SKIP=plugins/gwbridge]
#   ASAN_BUILD_DIR=...  ASAN_JOBS=2  CTEST_ARGS="-R skel"
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${ASAN_BUILD_DIR:-$src/build-asan}
jobs=${ASAN_JOBS:-2}

cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DOVL_SANITIZE=ON -DOVL_TESTS=ON "$@" >/dev/null
cmake --build "$build" -j"$jobs"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build"
# shellcheck disable=SC2086
ctest -L "unit|netns" --output-on-failure --timeout 300 ${CTEST_ARGS:-}
