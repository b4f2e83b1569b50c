"""The root network namespace around the netns tests (a ctest fixture, see tests/CMakeLists.txt).

    root_guard.py snapshot FILE   before the first netns test: sweep namespaces left by crashed runs, then
                                  write the root namespace's links, addresses, routes and forwarding sysctls
    root_guard.py check FILE      after the last one: the root namespace must equal the snapshot, and no
                                  test namespace may be left by a finished netns_tests process

ctest runs every doctest case as its own process, so a snapshot taken inside netns_tests would only cover
the case that takes it. Test namespaces are named ovlnt-<pid>-<n> (tests/netns/fixture.cpp); only names of
that form whose creating process is no longer a running netns_tests are swept, so a run in another
checkout at the same time keeps its namespaces.
"""

import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from ovltest.netns import root_snapshot  # noqa: E402  (the same snapshot the e2e tests compare)

NAME = re.compile(r"ovlnt-(\d+)-\d+")
CREATOR = "netns_tests"


def creator_alive(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip() == CREATOR
    except OSError:
        return False


def orphans():
    """Test namespaces whose creating netns_tests process is gone."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return sorted(n for n in names if NAME.fullmatch(n) and not creator_alive(int(NAME.fullmatch(n).group(1))))


def sweep(names):
    for n in names:
        subprocess.run(["ip", "netns", "del", n], capture_output=True)


def main(mode, path):
    if mode == "snapshot":
        stale = orphans()
        sweep(stale)
        if stale:
            print(f"swept {len(stale)} namespaces of crashed netns test runs: {' '.join(stale)}")
        with open(path, "w") as f:
            json.dump(root_snapshot(), f)
        return 0
    if mode == "check":
        try:
            with open(path) as f:
                before = json.load(f)
        except OSError as e:
            print(f"no snapshot from before the netns tests ({e}): run them through ctest", file=sys.stderr)
            return 1
        os.unlink(path)
        now = json.loads(json.dumps(root_snapshot()))  # tuples to lists, as in the file
        left = orphans()
        sweep(left)
        failed = 0
        for key in sorted(set(before) | set(now)):
            if before.get(key) != now.get(key):
                print(f"root namespace changed: {key}\n  before: {before.get(key)}\n  after:  {now.get(key)}",
                      file=sys.stderr)
                failed = 1
        if left:
            print(f"netns tests left namespaces behind (now deleted): {' '.join(left)}", file=sys.stderr)
            failed = 1
        if not failed:
            print("root namespace unchanged; no test namespace left")
        return failed
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]) if len(sys.argv) == 3 else main("", ""))
