"""BENCHMARKS.md section for issue 17 item 3, topic modelling (benchmarks/bench_topics.py -> results/topics.json):
the BERTopic recipe's NPMI coherence, topic diversity, outlier share and NMI against KJV book genre, beside
both outlier reassignments, LDA and the `bertopic` package on the same embeddings."""

from __future__ import annotations

import json
from pathlib import Path

from common import machine_text

RESULTS = Path(__file__).resolve().parent / "results"
NAMES = {"kjv": "KJV verses (Debian sword-text-kjv)", "tweets": "dslabs trump_tweets (Debian r-cran-dslabs)"}
CPU_KEY = {"recipe (HDBSCAN)": "recipe", "LDA (scikit-learn)": "lda"}


def _fmt(x, digits: int = 3) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def _rows_of(r: dict) -> list[tuple[str, dict, str]]:
    cpu = r["cpu_seconds"]
    total = cpu["embed"] + cpu.get("reduce", 0) + cpu["recipe"]
    parts = f"embedding {cpu['embed']:,.0f}, UMAP {cpu.get('reduce', 0):,.0f}"
    rows = [("recipe (HDBSCAN)", r["recipe"], f"{total:,.0f} ({parts})")]
    for k, v in r.get("reassigned", {}).items():
        rows.append((f"recipe + {k} reassignment", v, f"+{cpu.get(f'reassign_{k}', 0):,.1f}"))
    if "lda" in r:
        rows.append(("LDA (scikit-learn, as many topics)", r["lda"], f"{cpu['lda']:,.0f}"))
    if "metrics" in r.get("bertopic", {}):
        rows.append(
            (f"bertopic {r['bertopic']['version']} package", r["bertopic"]["metrics"], f"{cpu['bertopic']:,.0f}")
        )
    return rows


def _verdict(ours: dict, lda: dict, has_nmi: bool) -> str:
    """Which model wins each metric, read from the numbers (the baseline's wins said plainly)."""
    keys = [("npmi", "NPMI"), ("diversity", "topic diversity")] + ([("nmi", "NMI against genre")] if has_nmi else [])
    won = [f"{name} ({ours[k]:.3f} vs {lda[k]:.3f})" for k, name in keys if ours[k] > lda[k]]
    lost = [f"{name} ({lda[k]:.3f} vs {ours[k]:.3f})" for k, name in keys if ours[k] <= lda[k]]
    text = "Against LDA with as many topics, the recipe wins on " + (", ".join(won) or "nothing")
    text += "; **LDA wins on " + ", ".join(lost) + "**" if lost else ""
    text += "."
    if has_nmi and "nmi_inliers" in ours:
        text += (
            f" NMI counts the outlier topic as one cluster; over the documents HDBSCAN placed in a topic it is "
            f"{ours['nmi_inliers']:.3f}."
        )
    return text


def _corpus(lines: list[str], name: str, r: dict) -> None:
    cfg = r["config"]
    has_nmi = "nmi" in r["recipe"]
    lines += [
        f"### {NAMES.get(name, name)}: {r['documents']:,} documents",
        "",
        f"Machine: {machine_text(r['machine'])}. Command: `{r['command']}` ({r['cpu_seconds_total']:,} CPU s in all, "
        f"{r['wall_seconds']:,} s wall on a shared machine). Embeddings: all-MiniLM-L6-v2 ({r['precision']}); "
        f"UMAP {cfg['n_neighbors']} neighbours to {cfg['n_components']} dimensions (min_dist {cfg['min_dist']}, "
        f"seed {cfg['seed']}); HDBSCAN min cluster size {cfg['min_cluster_size']}; {cfg['top_words']} words per "
        "topic. NPMI: mean over topics and word pairs, each document one window (gensim's c_npmi); diversity: "
        "unique share of the top 25 words; reassignment recomputes the topics' words from their new members.",
        "",
        "| model | topics | NPMI | diversity | outlier share |" + (" NMI vs genre |" if has_nmi else "") + " CPU s |",
        "|---|---:|---:|---:|---:|" + ("---:|" if has_nmi else "") + "---:|",
    ]
    for label, m, cpu in _rows_of(r):
        nmi = f" {_fmt(m.get('nmi'))} |" if has_nmi else ""
        share = m["outlier_share"]
        if "outlier_share_clustered" in m and m["outlier_share_clustered"] != share:
            share_text = f"{m['outlier_share_clustered']:.3f} -> {share:.3f}"
        else:
            share_text = f"{share:.3f}"
        lines.append(
            f"| {label} | {m['topics']} | {_fmt(m['npmi'])} | {_fmt(m['diversity'])} | {share_text} |{nmi} {cpu} |"
        )
    if "lda" in r:
        lines += ["", _verdict(r["recipe"], r["lda"], has_nmi)]
    b = r.get("bertopic", {})
    if "ari_clusters" in b:
        same = "the same" if b["ari_clusters"] == 1.0 else "not the same"
        lines += [
            "",
            f"The package against the recipe on the same embeddings and settings: {same} topics (adjusted Rand index "
            f"{b['ari_clusters']:.4f}, outliers {'identical' if b['same_outliers'] else 'different'}), "
            f"{100 * b['word_overlap']:.0f}% of the matched topics' top words shared"
            + "; its reassignments against ours from the same clusters: "
            + ", ".join(f"{k} ARI {v:.4f}" for k, v in b.get("ari_reassigned", {}).items())
            + ". Its row is its HDBSCAN topics before reassignment.",
        ]
    elif "skipped" in b:
        lines += ["", f"bertopic package: {b['skipped']}."]
    words = r["topic_words"]
    lines += ["", "Largest topics (size, top words):", ""]
    for t in list(words)[:6]:
        lines.append(f"- {t} ({r['sizes'].get(t, 0):,}): {', '.join(words[t][:8])}")
    lines.append("")


def section(lines: list[str]) -> None:
    path = RESULTS / "topics.json"
    lines += ["## Topic modelling: the BERTopic recipe against LDA (issue 17)", ""]
    if not path.exists():
        lines += ["Not measured yet: run `python benchmarks/bench_topics.py`.", ""]
        return
    results = json.loads(path.read_text())
    for name in sorted(results, key=lambda n: (n != "kjv", n)):
        _corpus(lines, name, results[name])
    if (RESULTS / "topics.png").exists():
        lines += ["![topic metrics per model](benchmarks/results/topics.png)", ""]


if __name__ == "__main__":
    out: list[str] = []
    section(out)
    print("\n".join(out))
