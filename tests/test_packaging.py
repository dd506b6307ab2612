"""Every data file inside the package must be declared as package data, or a regular (non-editable)
install would ship without it: the catalog's YAML, the in-repo sample."""

import fnmatch
import tomllib
from pathlib import Path

from transformer_catalog.errors import OPTIONAL_PACKAGES

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "transformer_catalog"


def test_all_package_data_is_declared():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "transformer_catalog"
    ]
    data = [
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    assert data, "no data files found"
    missing = [f for f in data if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert not missing, f"not declared in [tool.setuptools.package-data]: {missing[:5]}"


# Optional packages (errors.OPTIONAL_PACKAGES: import name -> distribution, extra): a command that needs a
# missing one says what to install in one line. Everything else must be a declared dependency.
OPTIONAL = {m: dist for m, (dist, _) in OPTIONAL_PACKAGES.items()}
DISTRIBUTION = {"yaml": "pyyaml", **OPTIONAL}


def test_optional_packages_are_in_their_extra():
    """Each optional import is installable from the extra that the error line names."""
    import re

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    missing = {
        m: extra
        for m, (dist, extra) in OPTIONAL_PACKAGES.items()
        if dist not in {re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].lower() for d in extras.get(extra, [])}
    }
    assert not missing, f"not offered by the extra the error names: {missing}"


def test_a_missing_optional_package_is_one_line():
    """A command whose optional import fails says what to install (exit 2), not a traceback; a missing
    module that is not optional stays a traceback (a bug)."""
    import subprocess
    import sys

    def run(blocked: str):
        code = (
            f"import sys; sys.modules[{blocked!r}] = None; from transformer_catalog.cli import main; "
            "sys.exit(main(['topics', '--data', 'kjv-sample', '--quiet']))"
        )
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)

    done = run("scipy")  # apps/topics.py imports scipy.sparse first thing
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "pip install scipy" in done.stderr and "transformer-catalog[apps]" in done.stderr, done.stderr
    assert "Traceback" in run("transformer_catalog.apps.topics").stderr


def _imports() -> dict[str, str]:
    """{top-level module: first file importing it} over the package's source."""
    import ast
    import sys

    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "transformer_catalog":
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def _declared() -> set[str]:
    import re

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].lower().replace("_", "-") for d in deps}


def test_every_imported_package_is_declared():
    declared = _declared()
    undeclared = {
        m: f
        for m, f in _imports().items()
        if m not in OPTIONAL and DISTRIBUTION.get(m, m).lower().replace("_", "-") not in declared
    }
    assert not undeclared, f"imported but not in [project].dependencies: {undeclared}"


def test_the_check_sees_pydantic_and_jinja2():
    # the two that were missing: the scan must find their imports, or the test above proves nothing
    found = _imports()
    assert "pydantic" in found and "jinja2" in found and "torch" in found
    assert {"pydantic", "jinja2", "torch", "pyyaml"} <= _declared()


def test_site_templates_are_package_data():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "transformer_catalog"
    ]
    for rel in ("catalog/templates/base.html", "catalog/templates/assets/app.js", "catalog/templates/assets/style.css"):
        assert (PACKAGE / rel).is_file() and any(fnmatch.fnmatch(rel, pat) for pat in patterns), rel


def test_ci_installs_the_wheel_into_a_fresh_venv_and_smoke_tests_it():
    ci = (ROOT / ".ci" / "run").read_text()
    for needle in (
        "pip wheel",
        "-m venv",
        "torch==2.13.0",
        "dist/transformer_catalog-*.whl",
        "site-packages",
        'tcat" --version',
        "site build",
    ):
        assert needle in ci, needle
    assert ci.index("torch==2.13.0") < ci.index("dist/transformer_catalog-*.whl")  # torch first, pinned


def test_vader_download_is_pinned_by_hash(tmp_path, monkeypatch):
    import hashlib
    import io
    import tarfile

    from transformer_catalog.data import sentiment
    from transformer_catalog.errors import TcatError

    assert len(sentiment.SDIST_SHA256) == 64
    # a tampered sdist is refused before it is opened, and nothing lands in the cache
    fake = io.BytesIO()
    with tarfile.open(fileobj=fake, mode="w:gz") as tar:
        info = tarfile.TarInfo("vaderSentiment-3.3.2/README")
        tar.addfile(info, io.BytesIO(b""))
    monkeypatch.setenv("TCAT_CACHE", str(tmp_path / "cache"))

    def fake_download(cmd, check):
        dest = Path(cmd[cmd.index("-d") + 1])
        (dest / "vaderSentiment-3.3.2.tar.gz").write_bytes(fake.getvalue())

    monkeypatch.setattr(sentiment.subprocess, "run", fake_download)
    import pytest

    with pytest.raises(TcatError, match="sha256"):
        sentiment.install()
    assert hashlib.sha256(fake.getvalue()).hexdigest() != sentiment.SDIST_SHA256
    assert not sentiment._path().exists()
