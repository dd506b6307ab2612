"""BENCHMARKS.md section for issue 16's long context (experiments/long_context.py, shipped in
src/transformer_catalog/experiments/results/long-context/): passkey and needle-in-a-haystack accuracy against
length for the unscaled model, each RoPE scaling zero-shot and after fine-tuning, RULER-style effective lengths
(per task and averaged), and why the base model misses at its training length. Every number is read from the
shipped results."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from common import machine_text, table_header

from transformer_catalog.experiments.long_context import CLAIM_TASKS, effective_length, finetune_lengths, mean_by_length

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
        return f"{base}, fine-tuned" if method != "none" else "no scaling, fine-tuned like the others"
    if how == "zero-shot":
        return f"{base}, no fine-tuning"
    return base


def _setting(r: dict) -> str:
    c, m = r["config"], r["metrics"]
    short = c.get("short_steps", 0)
    curriculum = (
        f"{c['steps']:,} steps, the first {short:,} at {c['short_len']} characters and the rest at {c['train_len']}"
        if short
        else f"{c['steps']:,} steps at {c['train_len']} characters"
    )
    return (
        f"Machine: {machine_text(r['machine'])}. Command: `{r['command']}` ({r['cpu_seconds']:,.0f} CPU s, "
        f"{r['wall_seconds']:,.0f} s wall; training {m['cpu_seconds_train']:,.0f} CPU s). A {c['layers']}-layer GPT "
        f"(d_model {c['d_model']}, {c['heads']} heads, RoPE, one token per character, so every digit is a token) "
        f"trained {curriculum} on passkey, needle and multi-key needle probes with King James Bible text as the "
        f"haystack (held-out chapters for the evaluation, {c['eval_samples']} samples per task and length); every "
        f"scaling uses factor {c['factor']:g} (dynamic NTK: factor 1, so its NTK factor is the length / "
        f"{c['train_len']}); fine-tuning: {c['finetune_steps']} steps at lr {c['finetune_lr']:g}, batch "
        f"{c['finetune_batch']}, {_finetune_lengths(c)}."
    )


def _finetune_lengths(c: dict) -> str:
    if not c.get("finetune_cycle", True):
        return f"at {c['finetune_len']} characters"
    cycled = finetune_lengths(SimpleNamespace(train_len=c["train_len"], finetune_len=c["finetune_len"]))
    return "cycling through " + " / ".join(str(n) for n in cycled) + " characters"


def section(lines: list[str]) -> None:
    lines += ["## Long context: passkey and needle retrieval beyond the training length (issue 16)", ""]
    if not (FOLDER / "results.json").exists():
        lines += ["Not measured yet: run `tcat experiments run long-context`.", ""]
        return
    r = json.loads((FOLDER / "results.json").read_text())
    acc = json.loads((FOLDER / "accuracy.json").read_text())
    tables = acc["tables"]
    lengths = [str(n) for n in acc["lengths"]]
    columns = [f"{int(n):,}" for n in lengths]
    threshold = r["criterion"].split(">= ")[-1].split(" ")[0]
    tasks = list(next(iter(tables.values())))
    claim = [t for t in CLAIM_TASKS if t in tasks]
    lines += [_setting(r), ""]
    lines += table_header(
        f"mean accuracy ({', '.join(claim)})", [*columns, "effective length", "effective length, all 3 tasks"]
    )
    for name, row in tables.items():
        means, every = mean_by_length(row), mean_by_length(row, tuple(tasks))
        cells = [f"{means[n]:.2f}" for n in lengths]
        lines.append(
            f"| {_label(name)} | "
            + " | ".join(cells)
            + f" | {effective_length(means):,} | {effective_length(every):,} |"
        )
    lines += [
        "",
        f"Effective length (RULER's rule): the longest tested length whose mean accuracy, and every shorter one's, is "
        f"at least {threshold} (0: not even at the shortest). Per task (RULER reports each task's):",
        "",
        *table_header("effective length", tasks),
    ]
    for name, row in tables.items():
        lines.append(f"| {_label(name)} | " + " | ".join(f"{effective_length(row[t]):,}" for t in tasks) + " |")
    lines += ["", "Accuracy per task:", "", *table_header("task, model", columns)]
    for name, row in tables.items():
        for task in tasks:
            lines.append(f"| {task}, {_label(name)} | " + " | ".join(f"{row[task][n]:.2f}" for n in lengths) + " |")
    _diagnosis(lines, acc.get("diagnosis_at_1x"), lengths[0])
    verdict = "holds" if r["claim_holds"] and r["control_fails"] else "**not demonstrated**"
    lines += ["", f"Claim: {r['claim']} Verdict: {verdict}."]
    if r.get("miss"):
        lines += ["", f"Missed: {r['miss']}"]
    lines += ["", "![long context](src/transformer_catalog/experiments/results/long-context/long-context.png)", ""]


def _diagnosis(lines: list[str], diagnosis: dict | None, length: str) -> None:
    """Where the unscaled model misses at its training length: the first digit, answers with a repeated digit
    (copying them needs more than the previous digit), and first digits taken from a distractor needle."""
    if not diagnosis:
        return
    lines += [
        "",
        f"Where the unscaled model misses at {int(length):,} characters (its training length):",
        "",
        *table_header(
            "task", ["retrieved", "first digit right", "with a repeated digit", "wrong first digit = a distractor's"]
        ),
    ]
    for task, d in diagnosis.items():
        n, wrong_first = d["samples"], d["samples"] - d["first_digit"]
        repeated = f"{d['repeated_hits']}/{d['repeated']}" if d["repeated"] else "-"
        lines.append(
            f"| {task} | {d['hits']}/{n} | {d['first_digit']}/{n} | {repeated} | {d['distractor_first']}/{wrong_first} |"
        )
