"""The repository's benchmarks/ and scripts/ folders hold scripts, not packages: a test imports one of their modules
with the folder on sys.path for the import only (so that the module's own imports, `from common import ...`,
resolve). Each call gives a fresh copy kept out of sys.modules, so a test may point its globals elsewhere
(RESULTS = tmp_path) without another test seeing that."""

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def script_module(name: str, folder: str = "benchmarks"):
    path = str(ROOT / folder)
    sys.modules.pop(name, None)
    sys.path.insert(0, path)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(path)
        sys.modules.pop(name, None)
