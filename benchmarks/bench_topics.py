"""Topic modelling (issue 17 item 3) -> results/topics.json + results/topics.png: the BERTopic recipe of
apps/topics.py on KJV verses (NMI against book genre) and on dslabs' tweets, with both outlier
reassignments, the LDA baseline with as many topics, and the `bertopic` package on the same embeddings.

  OMP_NUM_THREADS=1 python benchmarks/bench_topics.py --data kjv --min-cluster-size 100 --min-samples 10
  OMP_NUM_THREADS=1 python benchmarks/bench_topics.py --data tweets --min-cluster-size 50 --min-samples 10

Each invocation replaces its corpus's entry in topics.json and keeps the others'. CPU seconds are this
process's (time.process_time), per stage; the embeddings' cost is the one measured when they were computed
(they are cached by apps/topic_runs.embeddings)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, machine  # noqa: E402


def figure(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [("npmi", "NPMI coherence"), ("diversity", "topic diversity"), ("outlier_share", "outlier share")]
    if any("nmi" in r["recipe"] for r in results.values()):
        metrics.append(("nmi", "NMI vs KJV genre"))
    fig, axes = plt.subplots(len(results), len(metrics), figsize=(3.2 * len(metrics), 2.8 * len(results)))
    axes = [axes] if len(results) == 1 else axes
    for row, (name, r) in zip(axes, results.items()):
        for ax, (key, title) in zip(row, metrics):
            bars = {label: m.get(key) for label, m in rows_of(r)}
            bars = {k: v for k, v in bars.items() if v is not None}
            if not bars:  # no reference labels (tweets): no NMI
                ax.axis("off")
                continue
            ax.bar(range(len(bars)), list(bars.values()), color="#4878a8")
            ax.set_xticks(range(len(bars)), list(bars), rotation=35, ha="right", fontsize=7)
            ax.set_title(f"{name}: {title}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def rows_of(r: dict) -> list[tuple[str, dict]]:
    """(label, metrics) of every model of one corpus, in table order."""
    rows = [("recipe (HDBSCAN)", r["recipe"])]
    rows += [(f"recipe + {k} reassignment", v) for k, v in r.get("reassigned", {}).items()]
    if "lda" in r:
        rows.append(("LDA (scikit-learn)", r["lda"]))
    if "metrics" in r.get("bertopic", {}):
        rows.append((f"bertopic {r['bertopic']['version']} package", r["bertopic"]["metrics"]))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="kjv", help="kjv, tweets, or a sample (default kjv)")
    p.add_argument("--limit", type=int, default=0, help="documents drawn with --seed (default 0 = all)")
    p.add_argument("--min-cluster-size", type=int, default=100, help="HDBSCAN (default 100)")
    p.add_argument("--min-samples", type=int, default=0, help="HDBSCAN; 0 = the min cluster size (default 0)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--precision", default="bf16", help="embedding precision (default bf16: cosine >= 0.9999 of fp32)")
    p.add_argument("--compare", default="lda,bertopic,outliers", help="(default lda,bertopic,outliers)")
    args = p.parse_args()
    import torch

    torch.set_num_threads(1)
    from transformer_catalog.apps.topic_runs import load_corpus, run
    from transformer_catalog.apps.topics import TopicConfig

    started, wall, facts = time.process_time(), time.perf_counter(), machine()
    corpus = load_corpus(args.data, args.limit, args.seed)
    cfg = TopicConfig(min_cluster_size=args.min_cluster_size, min_samples=args.min_samples, seed=args.seed)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # one thread for BLAS / OpenMP too (UMAP, LDA), as for torch
        result = run(corpus, cfg, "minilm", args.precision, tuple(args.compare.split(",")), sys.stderr.isatty())
    result["command"] = "OMP_NUM_THREADS=1 python benchmarks/bench_topics.py " + " ".join(sys.argv[1:])
    earlier = sum(result["cpu_seconds"][k] for k in result["cached"])  # cached stages: their measured cost
    result["cpu_seconds_total"] = round(time.process_time() - started + earlier, 1)
    result["wall_seconds"] = round(time.perf_counter() - wall, 1)
    result["machine"] = facts
    path = RESULTS / "topics.json"
    everything = json.loads(path.read_text()) if path.exists() else {}
    everything[args.data] = result
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(everything, indent=1) + "\n")
    figure(everything, RESULTS / "topics.png")
    print(json.dumps({k: v for k, v in result.items() if k not in ("topic_words", "sizes")}, indent=1))


if __name__ == "__main__":
    main()
