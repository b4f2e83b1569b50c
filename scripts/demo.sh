#!/usr/bin/env bash
# The main command: installs what is missing, builds, and runs the Docker-overlay-with-Consul scenario on
# simulated hosts (network namespaces, a real Consul), then cleans up. Prints a step-by-step report and
# exits non-zero if any step fails. Extra arguments go to scripts/demo.py (e.g. -v, --colour never).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${OVL_BUILD_DIR:-$top/build}
"$top/scripts/setup.sh"
echo "demo: building into $build" >&2
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${OVL_CMAKE_ARGS:-} >/dev/null
if ! cmake --build "$build" -j"$(nproc)" >"$build/demo-build.log" 2>&1; then
  tail -n 40 "$build/demo-build.log" >&2
  echo "demo: the build failed (full log: $build/demo-build.log)" >&2
  exit 2
fi
export OVL_BIN_DIR="$build/bin"
exec /usr/bin/python3 "$top/scripts/demo.py" "$@"
