"""Topic modelling, the BERTopic recipe (Grootendorst 2022), from its parts:

  1. embed      each document with a sentence encoder (all-MiniLM-L6-v2 by default; apps/search.embed)
  2. reduce     the unit vectors to a few dimensions with UMAP (cosine neighbours, min_dist 0), seeded
  3. cluster    the reduced points with HDBSCAN; a document in no dense region is an outlier (topic -1)
  4. describe   each topic by class-based TF-IDF: the documents of a topic are joined into one, a word's
                weight is its share of the topic's words times log(1 + A / f), A the average number of
                words per topic, f the word's count over all topics (the outlier topic counts as a class)
  5. reassign   (optional) outliers to their nearest topic: by cosine to the topic centroids in the
                embedding space ("centroid"), or by cosine of the document's c-TF-IDF vector to the
                topics' ("ctfidf"); below `threshold` a document stays an outlier. The topics' words are
                then computed again from their new members.

Deterministic under `seed`: UMAP with a random_state runs its optimisation on one thread in a fixed order,
HDBSCAN has no randomness, and topics are numbered by size (largest = 0, ties by first document).
`reducer="none"` skips UMAP and clusters the embeddings themselves (tests; the package comparison).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from ..errors import TcatError

REDUCERS = ("umap", "none")
OUTLIERS = ("none", "centroid", "ctfidf")
_URL = re.compile(r"https?://\S+|www\.\S+")
_ENTITY = re.compile(r"&[a-z]+;|&#\d+;")
_NON_WORD = re.compile(r"[^A-Za-z0-9 ]+")


@dataclass(frozen=True)
class TopicConfig:
    n_neighbors: int = 15  # UMAP: the local neighbourhood (BERTopic's default)
    n_components: int = 5  # UMAP: the dimensions HDBSCAN clusters in
    min_dist: float = 0.0  # UMAP: packed clusters suit density-based clustering
    min_cluster_size: int = 10  # HDBSCAN: the smallest topic (BERTopic's min_topic_size)
    min_samples: int = 0  # HDBSCAN: 0 = min_cluster_size; smaller = fewer outliers
    top_words: int = 10  # words kept per topic (NPMI is computed on these)
    outliers: str = "none"  # none | centroid | ctfidf
    threshold: float = 0.0  # reassignment: the least similarity to join a topic
    seed: int = 0
    reducer: str = "umap"

    def check(self, n_docs: int) -> None:
        if self.reducer not in REDUCERS:
            raise TcatError(f"reducer {self.reducer!r}: expected one of {', '.join(REDUCERS)}")
        if self.outliers not in OUTLIERS:
            raise TcatError(f"outliers {self.outliers!r}: expected one of {', '.join(OUTLIERS)}")
        need = max(self.min_cluster_size, self.n_neighbors + 1 if self.reducer == "umap" else 2)
        if n_docs < need:
            raise TcatError(
                f"topic modelling needs at least {need} documents (--min-cluster-size {self.min_cluster_size}, "
                f"--neighbors {self.n_neighbors}), got {n_docs}"
            )


def clean(text: str) -> str:
    """What the topic words are counted on: links and HTML entities dropped (tweets), then only letters,
    digits and spaces kept, as BERTopic's own preprocessing does ("LORD's" -> "LORDs")."""
    text = _ENTITY.sub(" ", _URL.sub(" ", text.replace("\n", " ").replace("\t", " ")))
    return _NON_WORD.sub("", text)


def vectorizer(min_df: int = 1):
    """The word counter of c-TF-IDF, LDA and NPMI: lowercase, English stop words removed."""
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(stop_words="english", min_df=min_df)


def reduce(embeddings: np.ndarray, cfg: TopicConfig) -> np.ndarray:
    if cfg.reducer == "none":
        return np.asarray(embeddings, dtype=np.float64)
    import umap

    with warnings.catch_warnings():  # "n_jobs overridden by random_state": the determinism we asked for
        warnings.simplefilter("ignore")
        model = umap.UMAP(
            n_neighbors=cfg.n_neighbors,
            n_components=cfg.n_components,
            min_dist=cfg.min_dist,
            metric="cosine",
            random_state=cfg.seed,
        )
        return model.fit_transform(np.asarray(embeddings, dtype=np.float32))


def cluster(points: np.ndarray, cfg: TopicConfig) -> np.ndarray:
    """HDBSCAN labels (-1 = outlier), renumbered by topic size."""
    import hdbscan

    model = hdbscan.HDBSCAN(
        min_cluster_size=cfg.min_cluster_size,
        min_samples=cfg.min_samples or None,
        metric="euclidean",
        cluster_selection_method="eom",
    )
    return by_size(model.fit_predict(points))


def by_size(labels) -> np.ndarray:
    """Topics renumbered 0.. by decreasing size (ties: the topic whose first document comes first); -1 kept."""
    labels = np.asarray(labels)
    topics = [t for t in dict.fromkeys(labels.tolist()) if t != -1]
    order = sorted(topics, key=lambda t: -int(np.sum(labels == t)))  # sorted() is stable: first seen wins ties
    mapping = {t: i for i, t in enumerate(order)} | {-1: -1}
    return np.array([mapping[t] for t in labels.tolist()], dtype=np.int64)


@dataclass
class CTfidf:
    """c-TF-IDF of the classes (row i = classes[i]) over the vocabulary `words`."""

    matrix: sparse.csr_matrix
    classes: list[int]
    words: list[str]
    idf: np.ndarray
    counter: object  # the fitted CountVectorizer, to weigh new documents the same way

    def weigh(self, counts) -> sparse.csr_matrix:
        """Any rows of word counts -> c-TF-IDF weights (shares of the row's words times the idf)."""
        from sklearn.preprocessing import normalize

        return sparse.csr_matrix(
            normalize(sparse.csr_matrix(counts, dtype=np.float64), norm="l1") @ sparse.diags(self.idf)
        )

    def top_words(self, k: int) -> dict[int, list[tuple[str, float]]]:
        """The k highest-weighted words of each class (ties in vocabulary order), words of weight 0 left out."""
        dense = self.matrix.toarray()
        out = {}
        for row, c in zip(dense, self.classes):
            order = np.argsort(-row, kind="stable")[:k]
            out[c] = [(self.words[i], float(row[i])) for i in order if row[i] > 0]
        return out


def ctfidf(docs: list[str], labels, min_df: int = 1) -> CTfidf:
    """c-TF-IDF over the cleaned documents grouped by label (the outlier label -1 included as a class)."""
    labels = np.asarray(labels)
    classes = sorted(set(labels.tolist()))
    joined = [" ".join(d for d, lab in zip(docs, labels) if lab == c) for c in classes]
    counter = vectorizer(min_df)
    try:
        counts = sparse.csr_matrix(counter.fit_transform(joined), dtype=np.float64)
    except ValueError:  # scikit-learn: "empty vocabulary"
        raise TcatError("the documents hold no words to describe topics with (all stop words or symbols)") from None
    per_word = np.asarray(counts.sum(axis=0)).ravel()
    average = int(counts.sum(axis=1).mean())  # truncated to an integer, as BERTopic does, so the weights agree
    idf = np.log(1 + average / per_word)
    out = CTfidf(sparse.csr_matrix((0, 0)), classes, list(counter.get_feature_names_out()), idf, counter)
    out.matrix = out.weigh(counts)
    return out


def reassign(labels, cfg: TopicConfig, embeddings=None, docs=None, weights: CTfidf | None = None) -> np.ndarray:
    """Outliers moved to their most similar topic (cfg.outliers), where the similarity reaches cfg.threshold."""
    from sklearn.metrics.pairwise import cosine_similarity

    labels = np.asarray(labels).copy()
    out_idx = np.flatnonzero(labels == -1)
    topics = sorted(t for t in set(labels.tolist()) if t != -1)
    if cfg.outliers == "none" or out_idx.size == 0 or not topics:
        return labels
    if cfg.outliers == "centroid":
        emb = np.asarray(embeddings, dtype=np.float64)
        centroids = np.stack([emb[labels == t].mean(axis=0) for t in topics])
        sim = cosine_similarity(emb[out_idx], centroids)
    else:
        rows = [weights.classes.index(t) for t in topics]
        doc_weights = weights.weigh(weights.counter.transform([docs[i] for i in out_idx]))
        sim = cosine_similarity(doc_weights, weights.matrix[rows])
    best = sim.argmax(axis=1)
    keep = sim[np.arange(len(out_idx)), best] >= cfg.threshold
    # a document with no counted word has similarity 0 to every topic: it stays an outlier
    keep &= sim.max(axis=1) > 0
    labels[out_idx[keep]] = np.asarray(topics)[best[keep]]
    return labels


@dataclass
class TopicModel:
    labels: np.ndarray  # final topic per document (-1 = outlier)
    clustered: np.ndarray  # HDBSCAN's labels, before any reassignment
    words: dict[int, list[tuple[str, float]]]  # topic -> its top words with c-TF-IDF weights (no -1)
    sizes: dict[int, int] = field(default_factory=dict)

    @property
    def n_topics(self) -> int:
        return len(self.words)


def fit(docs: list[str], embeddings: np.ndarray, cfg: TopicConfig, clustered=None, points=None) -> TopicModel:
    """The recipe on documents (already cleaned with `clean`) and their embeddings (one row each);
    `points`: `reduce(embeddings, cfg)` computed earlier (a cache); `clustered`: HDBSCAN's labels of an
    earlier fit with the same settings, to try another reassignment."""
    if len(docs) != len(embeddings):
        raise TcatError(f"{len(docs)} documents but {len(embeddings)} embeddings")
    cfg.check(len(docs))
    if clustered is None:
        clustered = cluster(reduce(embeddings, cfg) if points is None else points, cfg)
    if not np.any(clustered >= 0):
        raise TcatError(
            f"HDBSCAN found no topic in {len(docs):,} documents: lower --min-cluster-size ({cfg.min_cluster_size})"
            + (" or reduce with --reducer umap" if cfg.reducer == "none" else "")
        )
    weights = ctfidf(docs, clustered)
    labels = reassign(clustered, cfg, embeddings, docs, weights)
    if cfg.outliers != "none":
        weights = ctfidf(docs, labels)  # the topics' words from their members after reassignment
    words = {t: w for t, w in weights.top_words(cfg.top_words).items() if t != -1}
    sizes = {t: int(np.sum(labels == t)) for t in sorted(set(labels.tolist()))}
    return TopicModel(labels, clustered, words, sizes)
