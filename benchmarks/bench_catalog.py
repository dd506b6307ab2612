"""Catalog speed: `tcat list` cold start (a new process each time) and a full site build.

  python benchmarks/bench_catalog.py [--runs 7]

Cold start is measured twice: with the validated-data cache empty (first run after an edit) and
warm (every later run). Targets: under 0.3 s for `tcat list`, 3 s for a site build and for
verifying the whole catalog (which imports torch and builds every spec on the meta device).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, median, write  # noqa: E402


def run(args, env):
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "transformer_catalog.cli", *args],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    cache = Path(tempfile.mkdtemp())
    env = {**os.environ, "TCAT_CACHE": str(cache)}
    cold, warm, site, helps, verify = [], [], [], [], []
    out = Path(tempfile.mkdtemp()) / "site"
    for _ in range(args.runs):
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir()
        cold.append(run(["list"], env))
        warm.append(run(["list"], env))
        helps.append(run(["--help"], env))
        site.append(run(["site", "build", str(out)], env))
        verify.append(run(["verify"], env))
    result = {
        "benchmark": "catalog",
        "command": "python benchmarks/bench_catalog.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "runs": args.runs,
        "entries": len(
            list((Path(__file__).parent.parent / "src/transformer_catalog/catalog/data/models").glob("*.yaml"))
        ),
        "seconds": {
            "tcat --help": round(median(helps), 3),
            "tcat list (cache cold)": round(median(cold), 3),
            "tcat list (cache warm)": round(median(warm), 3),
            "tcat site build (whole process)": round(median(site), 3),
            "tcat verify (whole catalog, whole process)": round(median(verify), 3),
        },
    }
    print(write("catalog", result))
    for k, v in result["seconds"].items():
        print(f"{k:35s} {v:.3f} s")


if __name__ == "__main__":
    main()
