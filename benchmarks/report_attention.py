"""BENCHMARKS.md section for issue 16's attention costs (benchmarks/bench_attention.py -> results/attention.json):
memory and time of tiled, SDPA, eager, sliding-window and block-sparse attention against length; decoding time
per token of softmax attention against linear attention; the wall-time crossover of each mixer; and the recall
experiments at the issue's lengths (the shipped results of recall-associative and recall-mqar)."""

from __future__ import annotations

import json
from pathlib import Path

from common import machine_text, table_header

RESULTS = Path(__file__).resolve().parent / "results"
EXPERIMENTS = Path(__file__).resolve().parent.parent / "src" / "transformer_catalog" / "experiments" / "results"

LABELS = {
    "eager": "eager (the formula)",
    "sdpa": "SDPA (PyTorch's fused CPU kernel)",
    "tiled": "tiled (nn/tiled.py)",
    "window-sdpa": "sliding window 256, SDPA + dense mask (the core today)",
    "window-tiled": "sliding window 256, tiled (blocks outside skipped)",
    "block-sparse": "BigBird block-sparse, dense mask + SDPA (the core today)",
}


def section(lines: list[str]) -> None:
    path = RESULTS / "attention.json"
    lines += ["## Efficient attention: memory and time against length (issue 16)", ""]
    if not path.exists():
        lines += ["Not measured yet: run `python benchmarks/bench_attention.py`.", ""]
        recall_section(lines)
        return
    r = json.loads(path.read_text())
    att = r["attention"]
    lengths = sorted({int(n) for rows in att.values() for n in rows})
    top = max(lengths)
    lines += [
        f"Machine: {machine_text(r['machine'])}. Command: `{r['command'].strip()}` "
        f"({r['cpu_seconds']:,} CPU s, {r['wall_seconds']:,} s wall, every point measured in a forked process). "
        f"One causal attention call, forward + backward, batch 1, one head of d = {r['head_dim']}, fp32; blocks of "
        f"{r['block']} for tiled and BigBird. Extra memory = peak resident set of the call minus the resident set "
        "before it; time = CPU seconds (median), since the machine is shared.",
        "",
        *table_header("extra memory (MiB)", (f"{n:,}" for n in lengths)),
    ]
    for kind, rows in att.items():
        cells = [f"{rows[str(n)]['extra_mib']:,.0f}" if str(n) in rows else "" for n in lengths]
        lines.append(f"| {LABELS.get(kind, kind)} | " + " | ".join(cells) + " |")
    lines += ["", *table_header("CPU seconds", (f"{n:,}" for n in lengths))]
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
        *table_header("CPU ms / token", (f"{n:,}" for n in contexts)),
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
        *table_header("CPU seconds", (f"{n:,}" for n in ls)),
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
    recall_section(lines)


def _shipped(name: str) -> tuple[dict, dict] | None:
    folder = EXPERIMENTS / name
    if not (folder / "results.json").exists():
        return None
    runs = folder / "runs.json"
    return json.loads((folder / "results.json").read_text()), json.loads(runs.read_text()) if runs.exists() else {}


def _head(r: dict) -> str:
    return (
        f"Machine: {machine_text(r['machine'])}. Command: `{r['command']}` ({r['cpu_seconds']:,.0f} CPU s, "
        f"{r['wall_seconds']:,.0f} s wall, {r['setting']} setting)."
    )


def recall_section(lines: list[str]) -> None:
    """Issue 16 item 4: associative recall at 1K-8K and MQAR at Zoology's settings, per mixer, from the shipped
    experiment results (src/transformer_catalog/experiments/results/recall-*)."""
    lines += ["## Recall tasks at the issue's lengths (issue 16)", ""]
    ar, mq = _shipped("recall-associative"), _shipped("recall-mqar")
    if ar is None or mq is None:
        lines += ["Not run yet: `tcat experiments run recall-associative` and `... recall-mqar`.", ""]
        return
    r, runs = ar
    c = r["config"]
    stages = " -> ".join(f"{n:,} x {b} x {s}" for n, b, s in c["stages"])
    names = [*c["mixers"], "control"]
    lines += [
        _head(r),
        "",
        f"Associative recall, vocabulary {c['vocab']}: each mixer trains one two-layer decoder (d_model "
        f"{c['d_model']}, {c['heads']} head(s), lr {c['lr']}) sized for {max(c['lengths']):,} tokens through the "
        f"length curriculum {stages} (length x batch x steps), then answers one query in each held-out sequence "
        f"({', '.join(f'{n:,} at {k:,}' for k, n in zip(c['lengths'], c['eval_n']))} sequences). Target: attention "
        f"and Hyena >= 0.99 at every length; the control (mixers' outputs zeroed; first {c['control_stages']} "
        "stage(s) only, as it cannot mix tokens at any length) should sit near chance "
        f"{r['metrics']['chance']:.3f}.",
        "",
        *table_header("accuracy", [*(f"{n:,}" for n in c["lengths"]), "CPU s"]),
    ]
    for m in names:
        cells = [f"{r['metrics'][f'{m}_accuracy_{n}']:.3f}" for n in c["lengths"]]
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {r['metrics'][f'{m}_cpu_seconds']:,.0f} |")
    lines += ["", f"**Verdict:** {'met' if r['claim_holds'] else 'missed'}. {r.get('miss', '')}".rstrip(), ""]
    if runs:
        stage_lengths = [row[0] for row in runs["attention"]["step_cpu_seconds"]]
        lines += [
            "CPU seconds per training step of the whole recall model at each curriculum length (same batch for every "
            "mixer at a length; measured inside the runs above, so on the shared machine):",
            "",
            *table_header("CPU s / step", (f"{n:,}" for n in stage_lengths)),
        ]
        for m in c["mixers"]:
            lines.append(f"| {m} | " + " | ".join(f"{row[2]:.3f}" for row in runs[m]["step_cpu_seconds"]) + " |")
        cross = [
            f"{m}: {'from ' + format(r['metrics'][f'{m}_crossover'], ',') + ' tokens' if r['metrics'][f'{m}_crossover'] else 'never within these lengths'}"
            for m in c["mixers"]
            if f"{m}_crossover" in r["metrics"]
        ]
        lines += ["", f"Training-step crossover against attention: {'; '.join(cross)}.", ""]
    lines += [
        "![associative recall](src/transformer_catalog/experiments/results/recall-associative/recall-associative.png)",
        "",
    ]
    r, _ = mq
    c = r["config"]
    keys = [f"{n}x{p}" for n, p in c["settings"]]
    stages = " -> ".join(f"{n:,} x {b} x {s}" for n, b, s in c["stages"])
    lines += [
        _head(r),
        "",
        f"Multi-query associative recall (Zoology), vocabulary {c['vocab']}: one decoder per mixer (d_model "
        f"{c['d_model']}, {c['heads']} heads, lr {c['lr']}) sized for {max(n for n, _ in c['settings']):,} tokens, "
        f"curriculum {stages} at one pair per {c['settings'][0][0] // c['settings'][0][1]} tokens, scored on every query of held-out sequences. Target: "
        "attention >= 0.99 in both settings; the gap is attention's accuracy minus the mixer's (control: first "
        f"{c['control_stages']} stage(s) only).",
        "",
        *table_header("accuracy (gap)", [*(f"length {n:,}, {p} pairs" for n, p in c["settings"]), "CPU s"]),
    ]
    for m in [*c["mixers"], "control"]:
        cells = []
        for k in keys:
            gap = r["metrics"].get(f"{m}_gap_{k}")
            cells.append(f"{r['metrics'][f'{m}_accuracy_{k}']:.3f}" + (f" ({gap:+.3f})" if gap is not None else ""))
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {r['metrics'][f'{m}_cpu_seconds']:,.0f} |")
    lines += [
        "",
        f"**Verdict:** {'met' if r['claim_holds'] else 'missed'}. {r.get('miss', '')}".rstrip(),
        "",
        "![multi-query associative recall](src/transformer_catalog/experiments/results/recall-mqar/recall-mqar.png)",
        "",
    ]
