"""Shared benchmark plumbing: interleaved rounds, medians, machine facts, result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

RESULTS = Path(os.environ.get("TCAT_BENCH_RESULTS", Path(__file__).parent / "results"))  # tests write elsewhere


# The clock rates are measured with. "wall" (default): elapsed time. "cpu": this process's CPU time,
# for single-threaded runs on a shared machine: time another process holds the core is not counted,
# so a round slowed by a neighbour does not look like a slower kernel (set by --clock).
_CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = [time.perf_counter]


def use_clock(name: str) -> None:
    _clock[0] = _CLOCKS[name]


def now() -> float:
    return _clock[0]()


def machine_text(m: dict) -> str:
    """How every report names the machine a number was measured on: CPU, ISA flags, torch and threads."""
    isa = ", ".join(m.get("isa", [])) or "no avx2/avx512/amx flags"
    threads = f", {m['threads']} thread(s)" if "threads" in m else ""
    return f"{m['cpu']} (ISA: {isa}), torch {m['torch']}{threads}"


def table_header(first: str, columns) -> list[str]:
    """A markdown table's header and alignment rows: a text column, then right-aligned number columns."""
    columns = list(columns)
    return [f"| {first} | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]


def machine() -> dict:
    import torch

    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        flags = open("/proc/cpuinfo").read()
        isa = [f for f in ("amx_bf16", "avx512_bf16", "avx512f", "avx2") if f" {f}" in flags]
    except OSError:
        isa = []
    return {
        "cpu": cpu,
        "isa": isa,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
    }


def interleaved(peers: dict, run_one, rounds: int) -> dict[str, list[float]]:
    """run_one(peer) -> a rate. Peers take turns within each round so drift hits all equally."""
    out: dict[str, list[float]] = {name: [] for name in peers}
    for _ in range(rounds):
        for name, peer in peers.items():
            out[name].append(run_one(peer))
    return out


def timed(fn, warmup: int, iters: int) -> float:
    """Seconds per call, after warmup calls."""
    for _ in range(warmup):
        fn()
    t = now()
    for _ in range(iters):
        fn()
    return (now() - t) / iters


def median(xs):
    return statistics.median(xs)


def write(name: str, result: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
