"""BENCHMARKS.md section for issue 20's latent attention: decoding one token against N cached tokens
with the keys and values rebuilt per head (the reference) and on the cached latent (how tcat decodes,
nn/mla.py), and the cache bytes per token. Numbers come from benchmarks/results/mla.json
(benchmarks/bench_mla.py)."""

from __future__ import annotations

import json
from pathlib import Path

from common import machine_text

RESULTS = Path(__file__).resolve().parent / "results"


def section(lines: list[str]) -> None:
    path = RESULTS / "mla.json"
    lines += ["## Multi-head latent attention: decoding on the cached latent (issue 20)", ""]
    if not path.exists():
        lines += ["Not measured yet: run `OMP_NUM_THREADS=1 python benchmarks/bench_mla.py`.", ""]
        return
    r = json.loads(path.read_text())
    s, b = r["shape"], r["cache_bytes_per_token_layer"]
    lines += [
        f"One layer of {s['heads']} heads (query/key {s['head_dim']} = {s['head_dim'] - s['rope_dim']} + "
        f"{s['rope_dim']} rotated, values {s['v_head_dim']}), latent {s['kv_rank']} + {s['rope_dim']}: the cache "
        f"keeps {b['latent']:,} bytes per token and layer in 16 bits, where multi-head attention with the same "
        f"heads would keep {b['mha_same_heads']:,} ({b['mha_same_heads'] / b['latent']:.0f}x). CPU time per "
        f"decoding step (median of interleaved rounds; `{r['command']}`, {r['cpu_seconds']:.0f} CPU s in all), "
        f"on {machine_text(r['machine'])}:",
        "",
        "| cached tokens | keys and values rebuilt per head (ms) | on the latent, tcat (ms) | speed-up | max abs diff |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in r["rows"]:
        lines.append(
            f"| {row['context']:,} | {row['expanded_ms']:.1f} | {row['absorbed_ms']:.1f} | "
            f"{row['expanded_ms'] / row['absorbed_ms']:.0f}x | {row['max_abs_diff']:.1e} |"
        )
    lines.append("")
