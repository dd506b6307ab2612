"""The SetFit benchmark (`tcat setfit`): SetFit, plain fine-tuning and the frozen-body head at several
examples per class over seeds, the `setfit` package on the same local body, and full-data fine-tuning,
all scored on one fixed, class-balanced subset of the test split; the curve over examples per class.

Data: the course's sets (data/course.py), the benchmark's being `vader-domains` (which of VADER's four
rated sets a snippet comes from: Amazon review, movie review, NYT editorial, tweet; their fixed
80 / 10 / 10 split), or `vader-movies` (binary sentiment, data/sentiment.py).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path

from ..errors import TcatError
from .setfit import SetFitConfig, per_class_sample, run_method


def load_data(name: str, sample: bool = False) -> dict:
    """{"train", "test": [(text, label index)], "labels": [label names, sorted]}: one of the course's sets
    (data/course.py; `sample`: its in-repo excerpt) or `vader-movies` (binary sentiment)."""
    from ..data.course import DATASETS, labels_of, load_dataset

    if name == "vader-movies":
        if sample:
            raise TcatError("vader-movies has no in-repo sample: use --data vader-domains --sample")
        from ..data.sentiment import load_sentiment

        parts = load_sentiment(name)
        return {"train": parts["train"], "test": parts["test"], "labels": ["negative", "positive"]}
    if name not in DATASETS:
        raise TcatError(f"unknown data {name!r}: use {', '.join((*DATASETS, 'vader-movies'))}")
    parts = load_dataset(name, sample=sample)
    labels = labels_of(parts)
    index = {label: k for k, label in enumerate(labels)}
    unknown = sorted({y for _, y in parts["test"]} - set(index))
    if unknown:
        raise TcatError(f"{name}: test labels {unknown} never occur in the training split")
    return {k: [(t, index[y]) for t, y in parts[k]] for k in ("train", "test")} | {"labels": labels}


def _mean_std(values: list[float]) -> dict:
    return {
        "mean": round(statistics.fmean(values), 4),
        "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
        "n": len(values),
    }


def summarise(runs: list[dict]) -> dict:
    """{method: {per_class: {"macro_f1": mean/std/n, "accuracy": ..., "cpu_seconds": mean}}}."""
    out: dict = {}
    for r in runs:
        out.setdefault(r["method"], {}).setdefault(str(r["per_class"]), []).append(r)
    return {
        method: {
            k: {
                "macro_f1": _mean_std([r["macro_f1"] for r in rows]),
                "accuracy": _mean_std([r["accuracy"] for r in rows]),
                "cpu_seconds": round(statistics.fmean(r["cpu_seconds"] for r in rows), 1),
            }
            for k, rows in sorted(cells.items(), key=lambda kv: int(kv[0]))
        }
        for method, cells in out.items()
    }


def check_request(data: dict, shots: list[int]) -> None:
    """Refuse before any training: a label with fewer training examples than the largest count asked."""
    per_class_sample(data["train"], max(shots), 0, "training split", data["labels"])


def test_subset(data: dict, per_class: int) -> list[tuple[str, int]]:
    """The fixed, class-balanced test draw: `per_class` of each label, or as many as the rarest label
    has; 0: the whole test split."""
    if not per_class:
        return data["test"]
    rarest = min(sum(y == k for _, y in data["test"]) for k in range(len(data["labels"])))
    if rarest == 0:
        raise TcatError("test split: a label has no test examples")
    return per_class_sample(data["test"], min(per_class, rarest), 0, "test split", data["labels"])


def plan_runs(shots, seeds, methods, package_shots=None, package_seeds=None, full=True) -> list[tuple]:
    """(method, per_class, seed) in the order they run: seed by seed, so a benchmark stopped by its time
    budget has every count at the seeds it finished; the full-data run after the first seed."""
    plan = [
        (m, k, s)
        for s in range(seeds)
        for k in shots
        for m in methods
        if m != "package" or ((package_shots is None or k in package_shots) and s < (package_seeds or seeds))
    ]
    if full:
        first = sum(1 for _, _, s in plan if s == 0)
        plan.insert(first, ("full", None, 0))
    return plan


def benchmark(
    data: dict,
    shots: list[int],
    seeds: int,
    methods: list[str],
    cfg: SetFitConfig,
    *,
    package_shots: list[int] | None = None,
    package_seeds: int | None = None,
    full: bool = True,
    full_limit: int = 0,
    test_per_class: int = 100,
    minutes: float = 0.0,
    encoder: str = "minilm",
    on_run: Callable[[dict], None] | None = None,
) -> dict:
    """Every (method, examples per class, seed) run; the package only at `package_shots` (default all)
    and for its first `package_seeds` seeds (default all): it costs ~4x ours per pair (fp32, no shared
    forward passes). The few-shot draw of a seed is the same for every method. `full_limit` > 0 caps
    the full-data run's training examples (a class-balanced draw), for CPU budgets. `minutes` > 0: no
    run starts after that many wall minutes; the runs not started are listed in "not_run"."""
    import time

    check_request(data, shots)
    test = test_subset(data, test_per_class)
    plan = plan_runs(shots, seeds, methods, package_shots, package_seeds, full)
    started, runs, full_run, not_run = time.perf_counter(), [], None, []
    for method, k, seed in plan:
        if minutes and time.perf_counter() - started > 60 * minutes:
            not_run.append({"method": method, "per_class": k, "seed": seed})
            continue
        if method == "full":
            train = data["train"]
            if full_limit and full_limit < len(train):
                smallest = min(sum(y == c for _, y in train) for c in range(len(data["labels"])))
                train = per_class_sample(train, min(smallest, full_limit // len(data["labels"])), 0)
            r = full_run = {"method": "full", "per_class": None, "seed": 0, "train": len(train)}
        else:
            r = {"method": method, "per_class": k, "seed": seed}
            train = per_class_sample(data["train"], k, seed)
        r |= run_method(method, train, test, cfg, seed, encoder)
        if method != "full":
            runs.append(r)
        if on_run:
            on_run(r)
    return {
        "labels": data["labels"],
        "test": len(test),
        "train_available": len(data["train"]),
        "runs": runs,
        "full": full_run,
        "summary": summarise(runs),
        "not_run": not_run,
    }


def gain(summary: dict, per_class: int, over: str = "plain", metric: str = "macro_f1") -> float | None:
    """SetFit's mean minus `over`'s mean at `per_class`, in points (x100)."""
    try:
        a, b = summary["setfit"][str(per_class)][metric]["mean"], summary[over][str(per_class)][metric]["mean"]
    except KeyError:
        return None
    return round(100 * (a - b), 1)


STYLE = {"setfit": "tab:blue", "package": "tab:cyan", "plain": "tab:red", "frozen": "tab:gray"}
NAMES = {
    "setfit": "SetFit (tcat)",
    "package": "setfit package",
    "plain": "plain fine-tuning",
    "frozen": "frozen body + logistic head",
}


def plot(result: dict, path: Path) -> Path:
    """Macro-F1 and accuracy against examples per class: mean over seeds with a +-1 std band; the
    full-data fine-tuning as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..files import write_bytes

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, metric in zip(axes, ("macro_f1", "accuracy")):
        for method, cells in result["summary"].items():
            xs = [int(k) for k in cells]
            mean = [c[metric]["mean"] for c in cells.values()]
            std = [c[metric]["std"] for c in cells.values()]
            ax.plot(xs, mean, marker="o", color=STYLE.get(method), label=NAMES.get(method, method))
            low, high = [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)]
            ax.fill_between(xs, low, high, alpha=0.15, color=STYLE.get(method))
        if result.get("full"):
            ax.axhline(result["full"][metric], ls="--", color="black", label=f"full data ({result['full']['train']:,})")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("labelled examples per class")
        ax.set_title(metric.replace("_", "-"))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"test score ({result['test']} examples)")
    axes[1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return write_bytes(path, buf.getvalue())
