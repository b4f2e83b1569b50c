"""The e2e test runner ctest uses: `python3 -m ovltest.runner -v test_module`.

Plain `python3 -m unittest` exits 0 when tests skip themselves (a missing tool, an unset OVL_BIN_DIR), so a
fresh machine would report "Passed" for tests that never ran. With OVL_NO_SKIP=1 (exported by
scripts/test.sh, hence by CI) every skip, whatever raised it (skipTest, SkipTest in setUpClass or
setUpModule, @skip decorators), is reported as a failure that names the reason, and so is an
@expectedFailure that fails: known bugs are asserted exactly instead. Without OVL_NO_SKIP the runner
behaves like unittest's own, and ctest shows a module with skips as "Skipped" (SKIP_REGULAR_EXPRESSION).
"""

import os
import sys
import unittest

NO_SKIP = os.environ.get("OVL_NO_SKIP") == "1"


def _as_failure(reason):
    """exc_info of an AssertionError carrying reason (raised, so that unittest can format it)."""
    try:
        raise AssertionError(reason)
    except AssertionError:
        return sys.exc_info()


class NoSkipResult(unittest.TextTestResult):
    def addSkip(self, test, reason):
        if not NO_SKIP:
            return super().addSkip(test, reason)
        self.addFailure(test, _as_failure(f"skipped, and OVL_NO_SKIP=1 forbids skips: {reason}"))

    def addExpectedFailure(self, test, err):
        if not NO_SKIP:
            return super().addExpectedFailure(test, err)
        self.addFailure(test, _as_failure("@expectedFailure is not allowed with OVL_NO_SKIP=1 (assert the known "
                                          f"behaviour exactly); it failed with: {err[1]!r}"))


class NoSkipRunner(unittest.TextTestRunner):
    resultclass = NoSkipResult


def main(argv=None):
    argv = list(sys.argv if argv is None else argv)
    argv[0] = "ovltest.runner"
    prog = unittest.main(module=None, argv=argv, testRunner=NoSkipRunner, exit=False)
    result = prog.result
    if result.testsRun == 0 and not result.skipped and result.wasSuccessful():
        print("ovltest.runner: no test found", file=sys.stderr)  # e.g. a misspelt module or class
        return 1
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
