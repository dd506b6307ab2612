"""BENCHMARKS.md section for issue 16's long context (experiments/long_context.py, shipped in
src/transformer_catalog/experiments/results/long-context/): passkey and needle-in-a-haystack accuracy against
length for the unscaled model, each RoPE scaling zero-shot and after fine-tuning, and RULER-style effective
lengths. Every number is read from the shipped results."""

from __future__ import annotations

import json
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent.parent / "src" / "transformer_catalog" / "experiments" / "results"
FOLDER = SHIPPED / "long-context"
LABELS = {
    "none": "no scaling (control)",
    "pi": "position interpolation (linear)",
    "ntk": "NTK-aware",
    "yarn": "YaRN",
    "dynamic": "dynamic NTK",
}


def _label(name: str) -> str:
    method, _, how = name.partition("-")
    base = LABELS.get(method, method)
    if how == "finetuned":
        return f"{base}, fine-tuned" if method != "none" else "no scaling, fine-tuned at the long length"
    if how == "zero-shot":
        return f"{base}, no fine-tuning"
    return base


def _machine(m: dict) -> str:
    return f"{m['cpu']} ({', '.join(m.get('isa', [])) or '?'}), torch {m['torch']}, {m['threads']} thread(s)"


def section(lines: list[str]) -> None:
    lines += ["## Long context: passkey and needle retrieval beyond the training length (issue 16)", ""]
    if not (FOLDER / "results.json").exists():
        lines += ["Not measured yet: run `tcat experiments run long-context`.", ""]
        return
    r = json.loads((FOLDER / "results.json").read_text())
    acc = json.loads((FOLDER / "accuracy.json").read_text())
    c, m = r["config"], r["metrics"]
    lengths = [str(n) for n in acc["lengths"]]
    lines += [
        f"Machine: {_machine(r['machine'])}. Command: `{r['command']}` ({r['cpu_seconds']:,.0f} CPU s, "
        f"{r['wall_seconds']:,.0f} s wall; training {m['cpu_seconds_train']:,.0f} CPU s). A {c['layers']}-layer "
        f"GPT (d_model {c['d_model']}, {c['heads']} heads, RoPE, one token per character) trained {c['steps']:,} "
        f"steps at {c['train_len']} characters on passkey, needle and multi-key needle probes with King James "
        f"Bible text as the haystack (held-out chapters for the evaluation, {c['eval_samples']} samples per task "
        f"and length); every scaling uses factor {c['factor']:g} (dynamic NTK: factor 1, so its NTK factor is the "
        f"length / {c['train_len']}); fine-tuning: {c['finetune_steps']} steps at {c['finetune_len']} characters.",
        "",
        "| mean accuracy (3 tasks) | " + " | ".join(f"{int(n):,}" for n in lengths) + " | effective length |",
        "|---|" + "---:|" * (len(lengths) + 1),
    ]
    for name, means in acc["means"].items():
        cells = [f"{means[n]:.2f}" for n in lengths]
        eff = m[f"{name}_effective_length"]
        lines.append(f"| {_label(name)} | " + " | ".join(cells) + f" | {eff:,} |")
    lines += [
        "",
        f"Effective length (RULER's rule): the longest tested length whose mean accuracy, and every shorter one's, "
        f"is at least {r['criterion'].split('>= ')[-1].split(' ')[0]}. Per task:",
        "",
        "| task, model | " + " | ".join(f"{int(n):,}" for n in lengths) + " |",
        "|---|" + "---:|" * len(lengths),
    ]
    for name, tasks in acc["tables"].items():
        for task, row in tasks.items():
            lines.append(f"| {task}, {_label(name)} | " + " | ".join(f"{row[n]:.2f}" for n in lengths) + " |")
    verdict = "holds" if r["claim_holds"] and r["control_fails"] else "**not demonstrated**"
    lines += ["", f"Claim: {r['claim']} Verdict: {verdict}."]
    if r.get("miss"):
        lines += ["", f"Missed: {r['miss']}"]
    lines += ["", "![long context](src/transformer_catalog/experiments/results/long-context/long-context.png)", ""]
