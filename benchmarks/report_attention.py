"""BENCHMARKS.md section for issue 16's attention costs (benchmarks/bench_attention.py -> results/attention.json):
memory and time of tiled, SDPA, eager, sliding-window and block-sparse attention against length; decoding time
per token of softmax attention against linear attention; the wall-time crossover of each mixer."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

LABELS = {
    "eager": "eager (the formula)",
    "sdpa": "SDPA (PyTorch's fused CPU kernel)",
    "tiled": "tiled (nn/tiled.py)",
    "window-sdpa": "sliding window 256, SDPA + dense mask (the core today)",
    "window-tiled": "sliding window 256, tiled (blocks outside skipped)",
    "block-sparse": "BigBird block-sparse, dense mask + SDPA (the core today)",
}


def _machine(m: dict) -> str:
    return f"{m['cpu']} ({', '.join(m.get('isa', [])) or '?'}), torch {m['torch']}, {m['threads']} thread(s)"


def section(lines: list[str]) -> None:
    path = RESULTS / "attention.json"
    lines += ["## Efficient attention: memory and time against length (issue 16)", ""]
    if not path.exists():
        lines += ["Not measured yet: run `python benchmarks/bench_attention.py`.", ""]
        return
    r = json.loads(path.read_text())
    att = r["attention"]
    lengths = sorted({int(n) for rows in att.values() for n in rows})
    top = max(lengths)
    lines += [
        f"Machine: {_machine(r['machine'])}. Command: `{r['command'].strip()}` "
        f"({r['cpu_seconds']:,} CPU s, {r['wall_seconds']:,} s wall, every point measured in a forked process). "
        f"One causal attention call, forward + backward, batch 1, one head of d = {r['head_dim']}, fp32; blocks of "
        f"{r['block']} for tiled and BigBird. Extra memory = peak resident set of the call minus the resident set "
        "before it; time = CPU seconds (median), since the machine is shared.",
        "",
        "| extra memory (MiB) | " + " | ".join(f"{n:,}" for n in lengths) + " |",
        "|---|" + "---:|" * len(lengths),
    ]
    for kind, rows in att.items():
        cells = [f"{rows[str(n)]['extra_mib']:,.0f}" if str(n) in rows else "" for n in lengths]
        lines.append(f"| {LABELS.get(kind, kind)} | " + " | ".join(cells) + " |")
    lines += ["", "| CPU seconds | " + " | ".join(f"{n:,}" for n in lengths) + " |", "|---|" + "---:|" * len(lengths)]
    for kind, rows in att.items():
        cells = [f"{rows[str(n)]['cpu_seconds']:.3f}" if str(n) in rows else "" for n in lengths]
        lines.append(f"| {LABELS.get(kind, kind)} | " + " | ".join(cells) + " |")
    share = r["tiled_extra_share_of_scores"]
    verdict = "met" if r["tiled_target_met"] else "**missed**"
    lines += [
        "",
        f"Target: tiled attention's extra memory at {top:,} tokens <= 1/8 of the naive fp32 score matrix "
        f"({r['naive_scores_mib']:,.0f} MiB): {att['tiled'][str(top)]['extra_mib']:,.0f} MiB = {share:.3f} of it, "
        f"{verdict}.",
        "",
        "![memory and time against length](benchmarks/results/attention_memory_time.png)",
        "",
    ]
    dec = r["decode"]
    contexts = sorted({int(n) for rows in dec.values() for n in rows})
    lines += [
        "Decoding one token after a context (a 2-layer decoder, d_model 64, rope; CPU ms per token): softmax "
        "attention reads its whole KV cache, linear attention updates a fixed-size state.",
        "",
        "| CPU ms / token | " + " | ".join(f"{n:,}" for n in contexts) + " |",
        "|---|" + "---:|" * len(contexts),
    ]
    for mixer, rows in dec.items():
        cells = [f"{1000 * rows[str(n)]['cpu_seconds']:.2f}" if str(n) in rows else "" for n in contexts]
        lines.append(f"| {mixer} | " + " | ".join(cells) + " |")
    lo, hi = str(min(contexts)), str(max(contexts))
    growth = {
        m: rows[hi]["cpu_seconds"] / rows[lo]["cpu_seconds"] for m, rows in dec.items() if lo in rows and hi in rows
    }
    lines += [
        "",
        f"Per-token time at {int(hi):,} tokens of context over that at {int(lo):,}: "
        + ", ".join(f"{m} {g:.2f}x" for m, g in growth.items())
        + " (single medians on a shared machine: differences of about 0.5 ms between neighbouring contexts are noise).",
        "",
        "![decoding time per token](benchmarks/results/attention_decode.png)",
        "",
    ]
    mix = r["mixers"]
    ls = sorted({int(n) for rows in mix.values() for n in rows})
    lines += [
        "One mixer layer's training step (forward + backward, d_model 128, 2 heads, batch 1; CPU seconds): "
        "attention (SDPA, causal), linear attention (chunked form), Hyena (FFT convolutions).",
        "",
        "| CPU seconds | " + " | ".join(f"{n:,}" for n in ls) + " |",
        "|---|" + "---:|" * len(ls),
    ]
    for mixer, rows in mix.items():
        cells = [f"{rows[str(n)]['cpu_seconds']:.4f}" if str(n) in rows else "" for n in ls]
        lines.append(f"| {mixer} | " + " | ".join(cells) + " |")
    cross = ", ".join(
        f"{m}: {'from ' + format(n, ',') + ' tokens on' if n else 'not within the measured lengths'}"
        for m, n in r["crossover"].items()
    )
    lines += [
        "",
        f"Crossover (the length from which a mixer's step is faster than attention's at every longer length): {cross}.",
        "",
        "![one mixer layer against length](benchmarks/results/attention_crossover.png)",
        "",
    ]
