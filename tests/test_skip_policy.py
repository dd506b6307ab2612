"""The CI skip policy (tests/conftest.py): with TCAT_STRICT_SKIPS=1 a skip fails the run unless its
reason is allowed, and a skip outside the policy really makes pytest exit non-zero."""

import os
import subprocess
import sys

from conftest import unexpected_skips


def test_only_allowed_reasons_pass():
    skipped = [("a", "Skipped: needs the Debian package x"), ("b", "Skipped: no GPU here")]
    assert unexpected_skips(skipped, {}) == skipped
    assert unexpected_skips(skipped, {"no GPU": "why"}) == [skipped[0]]


def test_strict_mode_fails_a_run_with_a_skip(tmp_path):
    test = tmp_path / "test_one_skip.py"
    test.write_text("import pytest\n\ndef test_skipped():\n    pytest.skip('needs foo')\n")
    conftest = os.path.join(os.path.dirname(__file__), "conftest.py")
    (tmp_path / "conftest.py").write_text(open(conftest).read())
    env = {**os.environ, "TCAT_STRICT_SKIPS": "1"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider", str(test)]
    strict = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert strict.returncode == 1 and "test_one_skip.py::test_skipped: Skipped: needs foo" in strict.stdout
    env["TCAT_STRICT_SKIPS"] = "0"
    assert subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, timeout=120).returncode == 0
