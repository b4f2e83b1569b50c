"""Cleanups that keep going and still fail the test.

    self.assertEqual(run_all(self.cleanups), [], "cleanup failed")

A DEL that fails in a test's cleanup is a product bug like any other; printing it and carrying on (as
these tests once did) let it pass unseen.
"""


def run_all(fns):
    """Calls every function, last added first, even when some raise; returns the failures as strings."""
    failed = []
    for fn in reversed(list(fns)):
        try:
            fn()
        except Exception as e:  # keep cleaning; the caller fails afterwards
            failed.append(f"{type(e).__name__}: {e}")
    return failed
