"""BENCHMARKS.md section for issue 17 item 2 (benchmarks/results/setfit*.json, made by `tcat setfit`): SetFit
against plain fine-tuning on the same few examples, the frozen body's logistic head, the `setfit` package on
the same local MiniLM, and full-data fine-tuning; macro-F1 and accuracy over examples per class (mean and
standard deviation over seeds), SetFit's paired gain over plain fine-tuning (same draw per seed), and CPU
seconds. setfit.json is the issue's dataset (VADER 4-domain); setfit_<data>.json files are further sets."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from common import machine_text

RESULTS = Path(__file__).resolve().parent / "results"
NAMES = {
    "setfit": "SetFit (tcat): contrastive body tuning + logistic head",
    "package": "`setfit` package 1.2, same local body and pair budget",
    "frozen": "frozen body + logistic head (no stage 1)",
    "plain": "plain fine-tuning (linear head + body, cross-entropy)",
}
DATA = {
    "vader-domains": "VADER 4-domain (which rated set a snippet comes from: Amazon / movies / NYT / tweets)",
    "vader-movies": "VADER movie-review sentiment (positive / negative)",
}
TARGET_POINTS = 10.0  # the issue: >= 10 points of macro-F1 over plain fine-tuning at 8 per class


def _cell(c: dict | None, metric: str) -> str:
    if not c:
        return "—"
    m = c[metric]
    return f"{m['mean']:.3f} ± {m['std']:.3f} ({m['n']})"


def paired_gain(runs: list[dict], per_class: int, metric: str = "macro_f1") -> dict | None:
    """SetFit minus plain fine-tuning on each seed's same draw: mean, min, max (points) and wins."""
    by = {(r["method"], r["seed"]): r[metric] for r in runs if r["per_class"] == per_class}
    diffs = [100 * (by[("setfit", s)] - by[("plain", s)]) for m, s in by if m == "setfit" and ("plain", s) in by]
    if not diffs:
        return None
    return {"mean": statistics.fmean(diffs), "min": min(diffs), "max": max(diffs), "wins": sum(d > 0 for d in diffs)}


def _one(lines: list[str], r: dict) -> None:
    summary, shots = r["summary"], sorted({run["per_class"] for run in r["runs"]})
    name = r["data"].split(" ")[0]
    lines += [
        f"Data: {DATA.get(name, r['data'])}; {r['train_available']:,} training texts to draw from, scored on a "
        f"fixed class-balanced draw of {r['test']:,} test texts. Machine: {machine_text(r['machine'])}. Command: "
        f"`{r['command']}` ({r['cpu_seconds']:,.0f} CPU s in all, {r['wall_seconds']:,.0f} s wall on a shared "
        "machine). Each seed draws its own examples; every method of that seed gets the same draw.",
        "",
        "| method | "
        + " | ".join(f"{k}/class macro-F1" for k in shots)
        + " | "
        + " | ".join(f"{k}/class accuracy" for k in shots)
        + " | CPU s per run |",
        "|---|" + "---:|" * (2 * len(shots) + 1),
    ]
    for method in ("setfit", "package", "frozen", "plain"):
        if method not in summary:
            continue
        cells = summary[method]
        cpu = ", ".join(f"{cells[str(k)]['cpu_seconds']:.0f}" for k in shots if str(k) in cells)
        lines.append(
            f"| {NAMES[method]} | "
            + " | ".join(_cell(cells.get(str(k)), "macro_f1") for k in shots)
            + " | "
            + " | ".join(_cell(cells.get(str(k)), "accuracy") for k in shots)
            + f" | {cpu} |"
        )
    if r.get("full"):
        f = r["full"]
        lines.append(
            f"| fine-tuning on {f['train']:,} training texts ({f.get('epochs', '?')} epoch) | "
            + " | ".join(f"{f['macro_f1']:.3f}" for _ in shots)
            + " | "
            + " | ".join(f"{f['accuracy']:.3f}" for _ in shots)
            + f" | {f['cpu_seconds']:.0f} |"
        )
    lines += ["", "Mean ± standard deviation over seeds (number of seeds in brackets).", ""]
    gains = {k: paired_gain(r["runs"], k) for k in shots}
    parts = [
        f"{k}/class {g['mean']:+.1f} points (seeds {g['min']:+.1f} to {g['max']:+.1f}; SetFit ahead on {g['wins']} "
        f"of {sum(1 for x in r['runs'] if x['method'] == 'setfit' and x['per_class'] == k)})"
        for k, g in gains.items()
        if g
    ]
    if parts:
        lines += ["SetFit minus plain fine-tuning, macro-F1, paired by seed: " + "; ".join(parts) + ".", ""]
    g8 = gains.get(8)
    if g8 is not None:
        met = g8["mean"] >= TARGET_POINTS
        lines += [
            f"Target (>= {TARGET_POINTS:.0f} points over plain fine-tuning at 8 per class): "
            + ("**met**" if met else f"**not met** ({g8['mean']:+.1f} points)")
            + (
                ""
                if met or name != "vader-domains"
                else ": on this set the plain baseline fine-tunes the same sentence-embedding body (mean-pooled "
                "MiniLM, already trained contrastively), so its few-shot start is far stronger than the "
                "RoBERTa-large classification heads the SetFit paper compared against"
            )
            + ".",
            "",
        ]
    if r.get("not_run"):
        missed = ", ".join(f"{x['method']} {x['per_class'] or 'full'}/class seed {x['seed']}" for x in r["not_run"])
        lines += [f"Not run within the command's time budget (`--minutes`): {missed}.", ""]
    if r.get("figure"):
        lines += [f"![SetFit curve]({Path(r['figure']).as_posix()})", ""]


def section(lines: list[str]) -> None:
    lines += ["## SetFit: few-shot classification over examples per class (issue 17)", ""]
    files = sorted(RESULTS.glob("setfit*.json"), key=lambda p: (p.name != "setfit.json", p.name))
    if not files:
        lines += ["Not measured yet: run `tcat setfit --json benchmarks/results/setfit.json`.", ""]
        return
    for path in files:
        r = json.loads(path.read_text())
        if r.get("partial"):
            lines += [f"`{path.name}` holds a run that did not finish ({len(r['runs'])} runs): not reported.", ""]
            continue
        _one(lines, r)


if __name__ == "__main__":
    out: list[str] = []
    section(out)
    print("\n".join(out))
