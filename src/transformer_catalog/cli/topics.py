"""`tcat topics`: topic modelling with the BERTopic recipe (apps/topics.py) on a corpus, its metrics, and
with --compare the LDA baseline, both outlier reassignments and the `bertopic` package on the same
embeddings (apps/topic_runs.py)."""

from __future__ import annotations

import json

from .common import add_json, add_threads, check_output_file, set_threads
from .options import help_text, number

COMPARE = ("lda", "bertopic", "outliers")


def cmd_topics(args) -> None:
    """Fit topics, print the largest with their words, and the metrics as one JSON line."""
    check_output_file(args.json)
    set_threads(args.threads)
    from ..apps.topic_runs import load_corpus, run
    from ..apps.topics import TopicConfig

    cfg = TopicConfig(
        n_neighbors=args.neighbors,
        n_components=args.components,
        min_cluster_size=args.min_cluster_size,
        min_samples=args.min_samples,
        top_words=args.top_words,
        outliers=args.outliers,
        threshold=args.threshold,
        seed=args.seed,
        reducer=args.reducer,
    )
    if args.encoder != "minilm":  # the encoder is checked before the corpus is read
        from ..train.pretrained import resolve_encoder

        resolve_encoder(args.encoder)
    corpus = load_corpus(args.data, args.limit, args.seed)
    cfg.check(len(corpus.texts))  # before minutes of embedding
    result = run(corpus, cfg, args.encoder, args.precision, tuple(args.compare), progress=not args.quiet)
    sizes = result["sizes"]
    print(f"{result['recipe']['topics']} topics in {result['documents']:,} documents of {args.data}")
    for topic, words in list(result["topic_words"].items())[: args.show]:
        print(f"{topic:>4}  {sizes.get(topic, 0):>6,}  {' '.join(words)}")
    if "-1" in sizes:
        print(f"  -1  {sizes['-1']:>6,}  (outliers)")
    summary = {k: v for k, v in result.items() if k not in ("topic_words", "sizes", "config")}
    print(json.dumps(summary))
    from .common import write_json

    write_json(args.json, result)


def register(sub, add) -> None:
    sp = add("topics", cmd_topics, "topic modelling: MiniLM embeddings, UMAP, HDBSCAN, c-TF-IDF words; NPMI, NMI")
    sp.add_argument(
        "--data",
        default="kjv",
        help="kjv (Debian sword-text-kjv; genre labels for NMI), kjv-sample (in-repo), tweets (Debian "
        "r-cran-dslabs), tweets-sample (in-repo) or a .txt file, one document a line (default kjv)",
    )
    sp.add_argument(
        "--encoder", default="minilm", help="minilm, a Hugging Face folder or a tcat encoder run (default minilm)"
    )
    sp.add_argument(
        "--precision",
        default="fp32",
        choices=["fp32", "bf16", "auto"],
        help="embedding precision; auto = bf16 where it measures faster here (default fp32)",
    )

    def num(flag, rng, default, text):
        sp.add_argument(
            flag, type=rng, default=default, metavar="N" if rng.kind is int else "X", help=help_text(text, default, rng)
        )

    num("--limit", number(int, 0, 10**7), 0, "documents drawn at random with --seed (0 = all)")
    num("--neighbors", number(int, 2, 1000), 15, "UMAP neighbours")
    num("--components", number(int, 1, 384), 5, "UMAP dimensions clustered by HDBSCAN")
    num("--min-cluster-size", number(int, 2, 10**6), 10, "HDBSCAN: the smallest topic")
    num("--min-samples", number(int, 0, 10**6), 0, "HDBSCAN: 0 = the min cluster size; smaller = fewer outliers")
    num("--top-words", number(int, 2, 100), 10, "words per topic (NPMI is computed on them)")
    num("--threshold", number(float, 0, 1), 0.0, "outlier reassignment: the least cosine similarity to a topic")
    num("--seed", number(int, 0, 2**31 - 1), 0, "seed (UMAP, --limit, LDA)")
    num("--show", number(int, 0, 10**6), 10, "topics printed")
    sp.add_argument(
        "--reducer",
        default="umap",
        choices=["umap", "none"],
        help="umap, or none: cluster the embeddings themselves (default umap)",
    )
    sp.add_argument(
        "--outliers",
        default="none",
        choices=["none", "centroid", "ctfidf"],
        help="move outliers to the nearest topic by embedding centroid or by c-TF-IDF (default none)",
    )
    sp.add_argument(
        "--compare",
        nargs="*",
        default=[],
        choices=list(COMPARE),
        help="also run: lda (scikit-learn, as many topics), bertopic (the package on the same embeddings), "
        "outliers (both reassignments) (default none)",
    )
    add_json(sp)
    sp.add_argument("--quiet", action="store_true", help="no progress output (default off)")
    add_threads(sp)
