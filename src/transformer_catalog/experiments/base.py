"""The shape every experiment shares: a claim, a control that should fail, numbers, a figure.

An experiment module defines
  NAME      its registry name (what `tcat experiments run NAME` takes)
  CLAIM     one sentence: what the experiment demonstrates
  CONTROL   one sentence: the run that should fail, and why it would not if the claim were hollow
  Config    a dataclass whose defaults are the full setting; Config.tiny() runs in seconds (tests)
  run(cfg, out) -> dict   runs claim and control, writes results.json and its figures into `out`
                          through `finish`, and returns the results

results.json holds: name, claim, control, criterion, metrics (numbers), claim_holds, control_fails,
setting, config, command, cpu_seconds, wall_seconds, machine (CPU, ISA flags such as avx512_bf16 or
amx_bf16, threads, versions), figures (file names in `out`) and the date. BENCHMARKS.md and the site
render it (render.py).
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import json
import os
import platform
import time
from pathlib import Path

# ISA flags that decide CPU training speed (bf16 matmuls in particular): recorded with every result.
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve")


def machine() -> dict:
    """The CPU a result was measured on, from /proc/cpuinfo where there is one."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "Model") and value.strip():
            model = value.strip()
        elif key in ("flags", "Features"):
            flags |= set(value.split())
    import torch

    return {
        "cpu": model,
        "arch": platform.machine(),
        "isa": [f for f in ISA_FLAGS if f in flags],
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


class Clock:
    """CPU seconds (this process, all threads) and wall seconds since creation."""

    def __init__(self):
        self.cpu, self.wall = time.process_time(), time.perf_counter()

    def read(self) -> tuple[float, float]:
        return round(time.process_time() - self.cpu, 2), round(time.perf_counter() - self.wall, 2)


def command(name: str, cfg) -> str:
    """The command that reproduces a result."""
    return f"tcat experiments run {name}" + (" --tiny" if cfg.setting == "tiny" else "")


def save_figure(fig, out: Path, name: str) -> str:
    """A matplotlib figure as out/name (PNG), written atomically; returns the file name."""
    from ..files import write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    import matplotlib.pyplot as plt

    plt.close(fig)
    write_bytes(out / name, buf.getvalue())
    return name


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def finish(
    out: Path,
    module,
    cfg,
    clock: Clock,
    *,
    criterion: str,
    metrics: dict,
    claim_holds: bool,
    control_fails: bool,
    figures: list[str],
) -> dict:
    """Assemble results.json for an experiment module's run and write it into `out`."""
    from ..files import write_json

    cpu, wall = clock.read()
    results = {
        "name": module.NAME,
        "claim": module.CLAIM,
        "control": module.CONTROL,
        "criterion": criterion,
        "metrics": {k: (float(f"{v:.6g}") if isinstance(v, float) else v) for k, v in metrics.items()},  # 6 digits
        "claim_holds": bool(claim_holds),
        "control_fails": bool(control_fails),
        "setting": cfg.setting,
        "config": json.loads(json.dumps(dataclasses.asdict(cfg))),  # as results.json holds it (tuples -> lists)
        "command": command(module.NAME, cfg),
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "machine": machine(),
        "figures": figures,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    write_json(out / "results.json", results)
    return results


def prepare(out) -> Path:
    """The experiment's output folder (files.output_dir: created and marked, or refused)."""
    from ..files import output_dir

    return output_dir(out)


def override(cfg, assignments: list[str]):
    """`cfg` with FIELD=VALUE assignments applied (the CLI's --set), each value read as the field's current
    type: an int, a number, true/false, text, or JSON for lists (a grid of budgets and sizes)."""
    from ..errors import TcatError

    if not assignments:
        return cfg
    fields = {f.name: f for f in dataclasses.fields(cfg)}
    changes = {}
    for item in assignments:
        name, eq, text = item.partition("=")
        if not eq or not name:
            raise TcatError(f"--set {item!r}: expected FIELD=VALUE")
        if name not in fields or name == "setting":
            raise TcatError(f"--set {name}: unknown field; fields: {', '.join(n for n in fields if n != 'setting')}")
        current = getattr(cfg, name)
        try:
            if isinstance(current, bool):
                if text.lower() not in ("true", "false"):
                    raise ValueError
                value = text.lower() == "true"
            elif isinstance(current, int):
                value = int(text)
            elif isinstance(current, float):
                value = float(text)
                if value != value or value in (float("inf"), float("-inf")):
                    raise ValueError
            elif isinstance(current, (list, tuple)):
                value = type(current)(json.loads(text))
            else:
                value = text
        except (ValueError, TypeError):
            kind = type(current).__name__
            raise TcatError(f"--set {name}={text!r}: expected a value like {current!r} ({kind})") from None
        changes[name] = value
    return dataclasses.replace(cfg, **changes)


def state_miss(out: Path, results: dict, missed: str) -> dict:
    """Add `missed` (by how much and why a target was missed, from the measured numbers) to a result that does
    not hold, and rewrite its results.json: the site and BENCHMARKS.md show it beside the numbers."""
    from ..files import write_json

    if missed and not (results["claim_holds"] and results["control_fails"]):
        results["miss"] = missed
        write_json(out / "results.json", results)
    return results
