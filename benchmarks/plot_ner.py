"""The NER figure (benchmarks/results/ner.png) from the shipped results: validation entity F1 after each
epoch, and test F1 per entity type, for every model in benchmarks/results/ner_<model>.json.

python benchmarks/plot_ner.py
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
NAMES = {"minilm": "MiniLM (fine-tuned)", "bilstm": "BiLSTM"}


def main(out: Path = RESULTS / "ner.png") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = {n: json.loads(p.read_text()) for n in NAMES if (p := RESULTS / f"ner_{n}.json").exists()}
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, r in runs.items():
        per_epoch = r["steps"] / len(r["history"])
        left.plot([h["step"] / per_epoch for h in r["history"]], [h["valid_f1"] for h in r["history"]],
                  marker="o", label=NAMES[name])  # fmt: skip
    left.axhline(0.40, color="grey", linestyle="--", linewidth=1, label="target 0.40")
    left.set(xlabel="epoch", ylabel="validation entity F1", title="Validation F1 per epoch")
    left.legend()
    types = sorted({t for r in runs.values() for t in r["test"]["per_type"]})
    width = 0.8 / max(1, len(runs))
    for i, (name, r) in enumerate(runs.items()):
        f1 = [r["test"]["per_type"].get(t, {}).get("f1", 0.0) for t in types]
        right.bar([x + i * width for x in range(len(types))], f1, width, label=NAMES[name])
    right.set_xticks([x + width * (len(runs) - 1) / 2 for x in range(len(types))], types, rotation=45, ha="right")
    right.set(ylabel="test entity F1", title="Test F1 per entity type")
    right.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return out


if __name__ == "__main__":
    print(main())
