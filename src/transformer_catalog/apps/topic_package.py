"""The `bertopic` package (0.17) run offline as a reference for apps/topics.py: the same embeddings (so no
embedding model is loaded), a UMAP and an HDBSCAN with the same settings and seed, the same word counter.
Reported: how far its partition agrees with ours (adjusted Rand index; 1.0 = the same topics up to their
numbering), the mean overlap of the matched topics' top words, its outlier reassignment against ours
(strategy "embeddings" = our "centroid", "c-tf-idf" = our "ctfidf"), and its topics' own metrics."""

from __future__ import annotations

import warnings

import numpy as np

from .topics import TopicConfig, ctfidf, vectorizer

PACKAGE_STRATEGY = {"centroid": "embeddings", "ctfidf": "c-tf-idf"}


def bertopic_model(cfg: TopicConfig):
    """A BERTopic with our settings; raises ImportError where the package is not installed."""
    import hdbscan
    from bertopic import BERTopic
    from bertopic.dimensionality import BaseDimensionalityReduction

    if cfg.reducer == "umap":
        import umap

        reducer = umap.UMAP(
            n_neighbors=cfg.n_neighbors,
            n_components=cfg.n_components,
            min_dist=cfg.min_dist,
            metric="cosine",
            random_state=cfg.seed,
        )
    else:
        reducer = BaseDimensionalityReduction()
    clusterer = hdbscan.HDBSCAN(
        min_cluster_size=cfg.min_cluster_size,
        min_samples=cfg.min_samples or None,
        metric="euclidean",
        cluster_selection_method="eom",
        prediction_data=True,
    )
    return BERTopic(
        embedding_model=None, umap_model=reducer, hdbscan_model=clusterer, vectorizer_model=vectorizer(),
        top_n_words=cfg.top_words,
    )  # fmt: skip


def run_bertopic(docs: list[str], vectors: np.ndarray, cfg: TopicConfig, strategies=None):
    """(its labels before reassignment, {strategy: its labels after it}, its topic words). `strategies`:
    our names of the reassignments to run (default: cfg.outliers unless "none")."""
    model = bertopic_model(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels, _ = model.fit_transform(docs, embeddings=np.asarray(vectors, dtype=np.float32))
    labels = np.asarray(labels)
    if strategies is None:
        strategies = () if cfg.outliers == "none" else (cfg.outliers,)
    after = {}
    for strategy in strategies if (labels == -1).any() else ():  # the package refuses to reduce no outliers
        moved = model.reduce_outliers(
            docs, labels.tolist(), strategy=PACKAGE_STRATEGY[strategy], embeddings=vectors, threshold=cfg.threshold
        )
        after[strategy] = np.asarray(moved)
    words = {t: [(w, float(s)) for w, s in model.get_topic(t) if w] for t in sorted(set(labels.tolist())) if t != -1}
    return labels, after, words


def matched_word_overlap(ours, theirs, our_words: dict, their_words: dict) -> float:
    """Mean share of shared top words between each of our topics and the package topic holding most of
    its documents."""
    overlaps = []
    for t, words in our_words.items():
        members = theirs[np.asarray(ours) == t]
        members = members[members != -1]
        if members.size == 0 or not words:
            overlaps.append(0.0)
            continue
        match = int(np.bincount(members).argmax())
        a, b = {w for w, _ in words}, {w for w, _ in their_words.get(match, [])}
        overlaps.append(len(a & b) / max(len(a), 1))
    return float(np.mean(overlaps)) if overlaps else 0.0


def compare_with_bertopic(docs, vectors, cfg: TopicConfig, model, tokens, reference=None) -> dict:
    """The package on the same inputs, beside our TopicModel `model` (apps/topics.fit): its clusters, words
    and metrics before reassignment, and each reassignment's agreement with ours from the same clusters."""
    from dataclasses import replace

    from sklearn.metrics import adjusted_rand_score

    from .topic_runs import scores
    from .topics import reassign

    try:
        clustered, after, words = run_bertopic(docs, vectors, cfg, strategies=tuple(PACKAGE_STRATEGY))
    except ImportError:
        return {"skipped": "the bertopic package is not installed: pip install bertopic"}
    import bertopic

    weights = ctfidf(docs, model.clustered)
    ours_before = {t: w for t, w in weights.top_words(cfg.top_words).items() if t != -1}
    agree = {}
    for strategy, theirs in after.items():
        ours = reassign(model.clustered, replace(cfg, outliers=strategy), vectors, docs, weights)
        agree[strategy] = float(adjusted_rand_score(ours, theirs))
    return {
        "version": bertopic.__version__,
        "ari_clusters": float(adjusted_rand_score(model.clustered, clustered)),
        "same_outliers": bool(np.array_equal(model.clustered == -1, clustered == -1)),
        "word_overlap": matched_word_overlap(model.clustered, clustered, ours_before, words),
        "ari_reassigned": agree,
        "metrics": scores(clustered, words, tokens, reference),
    }
