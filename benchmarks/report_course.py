"""BENCHMARKS.md section for issue 17 item 1 (benchmarks/results/multiclass_<set>.json, one `tcat multiclass`
run per set, so that a set finished is shipped even if a later one is not):
five models x the course's four sets, macro-F1 with 95% bootstrap intervals, the CPU seconds of each run,
and, from the paired bootstrap differences, where a pre-Transformer baseline wins."""

from __future__ import annotations

import json
import math
from pathlib import Path

from common import machine_text

RESULTS = Path(__file__).resolve().parent / "results"
NAMES = {
    "tfidf": "TF-IDF (words + pairs) + logistic regression",
    "word2vec": "Word2Vec (CBOW, trained here) averaged + logistic regression",
    "bilstm": "BiLSTM (BPE 8K)",
    "minilm": "all-MiniLM-L6-v2, fine-tuned",
    "bert-mlm": "tcat BERT, MLM-pretrained here on the set's training texts, fine-tuned",
}
SETS = {
    "vader-domains": "VADER 4-domain (source of a snippet)",
    "austen": "Austen 6-novel (4-line passage)",
    "kjv-genre": "KJV genre (3-verse passage, 8 genres)",
    "fine-food": "fine-food reviews (great / other)",
}
BASELINES = ("tfidf", "word2vec", "bilstm")


def _verdict(name: str, model: str, r: dict) -> str | None:
    """One sentence on the best baseline against `model`, from the paired bootstrap difference."""
    rows = r["models"]
    if model not in rows:
        return None
    base = max((b for b in BASELINES if b in rows), key=lambda b: rows[b]["macro_f1"], default=None)
    key = f"{model}-{base}"
    if base is None or key not in r["versus"]:
        return None
    d = r["versus"][key]
    lo, hi = d["ci95"]
    lead = f"{d['difference']:+.3f} [{lo:+.3f}, {hi:+.3f}]"
    if hi < 0:
        return f"**{SETS.get(name, name)}: {NAMES[base].split(' (')[0]} beats {model}** ({model} minus it: {lead})."
    if lo > 0:
        return f"{SETS.get(name, name)}: {model} beats the best baseline, {base} ({lead})."
    return f"{SETS.get(name, name)}: {model} and the best baseline, {base}, are within noise ({lead})."


def section(lines: list[str]) -> None:
    lines += ["## Multi-class text classification: five models on the course's sets (issue 17)", ""]
    runs = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("multiclass_*.json"))]
    runs = sorted(runs, key=lambda r: [*SETS, *r["datasets"]].index(next(iter(r["datasets"]))))
    if not runs:
        lines += [
            "Not measured yet: run `tcat multiclass --data SET --json benchmarks/results/multiclass_SET.json`.",
            "",
        ]
        return
    sets = {k: v for r in runs for k, v in r["datasets"].items()}
    s, r = runs[0]["settings"], runs[0]
    models = [m for m in NAMES if any(m in d["models"] for d in sets.values())]
    lines += [
        f"Machine: {machine_text(r['machine'] | {'threads': r['threads']})}; "
        f"{sum(x['cpu_seconds'] for x in runs):,.0f} CPU s in all "
        f"({sum(x['wall_seconds'] for x in runs):,.0f} s wall on a shared machine). Commands:",
        "```",
        *[x["command"] for x in runs],
        "```",
        "",
        "Macro-F1 on each set's test split (the same split for every model), with the 95% percentile bootstrap "
        f"interval ({s['bootstrap']:,} resamples of the test texts, the same resamples for every model):",
        "",
        "| model | " + " | ".join(f"{SETS.get(n, n)} ({d['test']:,} test)" for n, d in sets.items()) + " |",
        "|---|" + "---:|" * len(sets),
    ]
    for m in models:
        cells = []
        for d in sets.values():
            x = d["models"].get(m)
            if x is None:
                cells.append("—")
                continue
            value = f"{x['macro_f1']:.3f}"
            cells.append(f"{'**' + value + '**' if d['best'] == m else value} [{x['ci95'][0]:.3f}, {x['ci95'][1]:.3f}]")
        lines.append(f"| {NAMES[m]} | " + " | ".join(cells) + " |")
    lines += ["", "CPU seconds per run (training and scoring; the BERT's includes its MLM pretraining):", ""]
    lines += ["| model | " + " | ".join(sets) + " |", "|---|" + "---:|" * len(sets)]
    for m in models:
        row = [f"{d['models'][m]['cpu_s']:,.0f}" if m in d["models"] else "—" for d in sets.values()]
        lines.append(f"| {m} | " + " | ".join(row) + " |")
    capped = [f"{n} {d['models'][m]['train']:,} of {d['train']:,}" for n, d in sets.items() for m in ("minilm",)
              if m in d["models"] and d["models"][m]["train"] < d["train"]]  # fmt: skip
    bert = next((d["models"]["bert-mlm"] for d in sets.values() if "bert-mlm" in d["models"]), None)
    lines += [
        "",
        f"Settings: {s['epochs']:g} fine-tuning epochs (the best validation epoch kept, validation capped at "
        f"{s['max_valid']:,} texts), {s['max_len']} tokens per text; learning rates MiniLM {s['lr_minilm']:g}, "
        f"BERT {s['lr_bert']:g}, BiLSTM {s['lr_bilstm']:g}. TF-IDF and Word2Vec ({s['w2v_dim']} dimensions, "
        f"{s['w2v_epochs']} epochs) train on the whole training split"
        + (
            f"; MiniLM and the BERT are fine-tuned on a seeded subset of at most {s['max_train']:,} texts "
            f"({', '.join(capped)}) to fit the CPU budget"
            if s["max_train"]
            else ""
        )
        + (f"; the BiLSTM on a seeded subset of at most {s['max_train_bilstm']:,}" if s.get("max_train_bilstm") else "")
        + ".",
    ]
    if bert:
        lines += [
            "",
            f"The tcat BERT is the catalog's BERT at tiny scale with `{' '.join('--set ' + x for x in s['bert_set'])}` "
            f"({bert['params'] / 1e6:.2f}M parameters with its head), pretrained with MLM for {s['bert_steps']} steps "
            f"on each set's own training texts (labels unused; a BPE of {s['bert_vocab']:,} learnt from them), "
            "then fine-tuned like MiniLM: a small model pretrained on little text, not a reproduction of BERT-base. "
            f"Its MLM validation loss at the end of pretraining (nats; uniform guessing over {s['bert_vocab']:,} "
            f"tokens is {math.log(s['bert_vocab']):.2f}): "
            + ", ".join(
                f"{n} {d['models']['bert-mlm']['pretraining']['valid_loss']:.2f}"
                for n, d in sets.items()
                if "bert-mlm" in d["models"]
            )
            + f" — {s['bert_steps']} steps are far too few to pretrain it, which is what its row measures.",
        ]
    if (RESULTS / "multiclass.png").exists():
        lines += ["", "![macro-F1 with 95% intervals per set](benchmarks/results/multiclass.png)"]
    verdicts = [v for n, d in sets.items() for m in ("minilm", "bert-mlm") if (v := _verdict(n, m, d))]
    if verdicts:
        lines += [
            "",
            "Where a baseline wins (paired bootstrap difference, Transformer minus the best baseline)"
            + (
                f". Read it with the budget in mind: TF-IDF and Word2Vec saw every training text, MiniLM and the BERT "
                f"{s['max_train']:,}; these are wins at a small CPU budget, not at equal data"
                if s["max_train"]
                else ""
            )
            + ":",
            "",
        ]
        lines += [f"- {v}" for v in verdicts]
    lines.append("")


def figure(out: Path = RESULTS / "multiclass.png") -> Path:
    """Macro-F1 with its 95% interval, one panel per set, from the shipped JSON files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = {k: v for p in RESULTS.glob("multiclass_*.json") for k, v in json.loads(p.read_text())["datasets"].items()}
    sets = dict(sorted(found.items(), key=lambda kv: [*SETS, *found].index(kv[0])))  # the table's order
    fig, axes = plt.subplots(1, len(sets), figsize=(3.2 * len(sets), 2.8), sharey=True, squeeze=False)
    for ax, (name, d) in zip(axes[0], sets.items()):
        models = [m for m in NAMES if m in d["models"]]
        f1 = [d["models"][m]["macro_f1"] for m in models]
        lo = [f - d["models"][m]["ci95"][0] for m, f in zip(models, f1)]
        hi = [d["models"][m]["ci95"][1] - f for m, f in zip(models, f1)]
        colors = ["tab:gray" if m in BASELINES else "tab:blue" for m in models]
        ax.barh(range(len(models)), f1, xerr=[lo, hi], color=colors, capsize=3)
        ax.set_yticks(range(len(models)), models)
        ax.set_xlim(0, 1)
        ax.set_title(f"{name} ({len(d['labels'])} classes)", fontsize=9)
        ax.set_xlabel("macro-F1 (95% bootstrap)")
    axes[0][0].invert_yaxis()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


if __name__ == "__main__":
    print(figure())
