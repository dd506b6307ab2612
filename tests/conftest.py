import os

# Parallel test workers must not oversubscribe the cores: one thread each (see DEVELOPERS.md).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread_and_seed():
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield


# -- skips are failures in CI -----------------------------------------------------------------------
# With TCAT_STRICT_SKIPS=1 (make test sets it) a skipped test fails the run unless its reason contains
# one of these: everything a test needs is installed by `make test`, so a skip there means a test
# silently stopped running. Each entry says why skipping is legitimate.
ALLOWED_SKIPS: dict[str, str] = {}
_skipped: list[tuple[str, str]] = []


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.append((report.nodeid, reason))


def unexpected_skips(skipped, allowed=None):
    allowed = ALLOWED_SKIPS if allowed is None else allowed
    return [(node, reason) for node, reason in skipped if not any(a in reason for a in allowed)]


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("TCAT_STRICT_SKIPS") != "1":
        return
    bad = unexpected_skips(_skipped)
    if bad:
        lines = "\n".join(f"  {node}: {reason}" for node, reason in bad)
        print(f"\nTCAT_STRICT_SKIPS: {len(bad)} test(s) skipped without an allowed reason:\n{lines}")
        session.exitstatus = 1
