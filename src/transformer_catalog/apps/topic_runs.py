"""`tcat topics` and the benchmark behind BENCHMARKS.md's topic table: a corpus, its embeddings (cached),
the BERTopic recipe (apps/topics.py), its metrics (metrics/topics.py), the LDA baseline and, where the
`bertopic` package is installed, the package run on the same embeddings with the same settings.

Corpora: `kjv` (every verse of the King James Bible, Debian sword-text-kjv; reference labels = the book's
genre), `kjv-sample` (the in-repo verses of data/samples/bible_en_es.tsv), `tweets` (dslabs' trump_tweets,
Debian r-cran-dslabs; no reference labels), `tweets-sample` (in-repo), or a .txt file (one document a line).
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import TcatError
from .topics import TopicConfig, clean, fit, vectorizer

CORPORA = ("kjv", "kjv-sample", "tweets", "tweets-sample")


@dataclass
class Corpus:
    name: str
    texts: list[str]  # as read
    reference: list[str] | None  # a label per text to compare topics with (KJV: the book's genre)


def load_corpus(name: str, limit: int = 0, seed: int = 0) -> Corpus:
    """A corpus by name or .txt path; `limit` > 0 keeps that many documents, drawn with `seed` (same draw
    for every model compared), in their original order."""
    from ..data.course import kjv_genre

    if name in ("kjv", "kjv-sample"):
        from ..data import bible

        if name == "kjv":
            refs = list(bible.load_bible("engKJV2006eb").items())
        else:
            refs = [(p.ref, p.src) for p in bible.load_sample()]
        texts = [t for _, t in refs]
        reference = [kjv_genre(ref.rsplit(" ", 1)[0]) for ref, _ in refs]
    elif name in ("tweets", "tweets-sample"):
        from ..data.course import load_tweets

        texts, reference = [t.text for t in load_tweets(sample=name == "tweets-sample")], None
    elif name.endswith(".txt"):
        path = Path(name)
        if not path.is_file():
            raise TcatError(f"--data {name}: no such file")
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            raise TcatError(f"--data {name}: not UTF-8 text") from None
        texts, reference = [line.strip() for line in lines if line.strip()], None
    else:
        raise TcatError(f"--data {name}: expected one of {', '.join(CORPORA)} or a .txt file (one document a line)")
    keep = [i for i, t in enumerate(texts) if clean(t).strip()]  # a document of only links or symbols has no words
    if limit and limit < len(keep):
        keep = sorted(random.Random(seed).sample(keep, limit))
    return Corpus(name, [texts[i] for i in keep], None if reference is None else [reference[i] for i in keep])


def embeddings(texts: list[str], encoder: str = "minilm", precision: str = "fp32", progress: bool = True):
    """(unit vectors of `texts`, the CPU seconds they cost). Cached by a digest of the encoder folder,
    precision and texts (safetensors in the tcat cache, the cost in its metadata; a damaged file is a miss)."""
    from safetensors.numpy import load_file, save

    from ..data.cache import cache_dir
    from ..train.pretrained import resolve_encoder
    from .embeddings import resolve_precision

    folder = resolve_encoder(encoder)
    precision = resolve_precision(precision)
    digest = hashlib.sha256(f"{folder.resolve()}\n{precision}\n".encode() + "\n".join(texts).encode()).hexdigest()
    path = cache_dir() / f"topic-embeddings-{digest[:32]}.safetensors"
    try:
        from safetensors import safe_open

        with safe_open(path, "np") as f:
            cost = float((f.metadata() or {}).get("cpu_seconds", "nan"))
        cached = load_file(path)["embeddings"]
        if cached.shape[0] == len(texts):
            return cached, cost
    except Exception:  # missing, truncated or foreign: compute again
        pass
    from .search import embed

    started = time.process_time()
    vectors = embed(str(folder), texts, precision=precision, progress=progress).astype(np.float32)
    cost = time.process_time() - started
    try:
        from ..files import write_bytes

        write_bytes(path, save({"embeddings": vectors}, metadata={"cpu_seconds": f"{cost:.1f}"}))
    except OSError:  # an unwritable cache only costs the next run the embedding
        pass
    return vectors, cost


def reduced(vectors: np.ndarray, cfg: TopicConfig) -> tuple[np.ndarray, float]:
    """(topics.reduce's points, the CPU seconds they cost), cached by a digest of the vectors and the
    reduction's settings, the cost in the file's metadata (UMAP on 31k verses costs about a CPU minute;
    HDBSCAN settings are then cheap to vary)."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save

    from ..data.cache import cache_dir
    from .topics import reduce

    started = time.process_time()
    if cfg.reducer == "none":
        return reduce(vectors, cfg), time.process_time() - started
    key = f"{cfg.reducer} {cfg.n_neighbors} {cfg.n_components} {cfg.min_dist} {cfg.seed}\n".encode()
    digest = hashlib.sha256(key + np.ascontiguousarray(vectors, dtype=np.float32).tobytes()).hexdigest()
    path = cache_dir() / f"topic-reduced-{digest[:32]}.safetensors"
    try:
        with safe_open(path, "np") as f:
            cost = float((f.metadata() or {}).get("cpu_seconds", "nan"))
        points = load_file(path)["points"]
        if points.shape == (len(vectors), cfg.n_components):
            return points, cost
    except Exception:  # missing or damaged: compute again
        pass
    points = reduce(vectors, cfg)
    cost = time.process_time() - started
    try:
        from ..files import write_bytes

        write_bytes(path, save({"points": np.ascontiguousarray(points)}, metadata={"cpu_seconds": f"{cost:.1f}"}))
    except OSError:
        pass
    return points, cost


def tokenised(docs: list[str]) -> list[list[str]]:
    """The reference texts of NPMI: the same lowercase, stop-word-free tokens c-TF-IDF counts."""
    analyse = vectorizer().build_analyzer()
    return [analyse(d) for d in docs]


def scores(labels, words: dict[int, list], tokens: list[list[str]], reference=None, clustered=None) -> dict:
    from ..metrics import topics as m

    top = [[w for w, _ in ws] for _, ws in sorted(words.items()) if len(ws) >= 2]
    out = {
        "topics": len(words),
        "outlier_share": m.outlier_share(labels),
        "npmi": m.npmi(top, tokens) if top else None,
        "diversity": m.topic_diversity(top, k=25) if top else None,
    }
    if clustered is not None:
        out["outlier_share_clustered"] = m.outlier_share(clustered)
    if reference is not None:
        out["nmi"] = m.nmi(labels, reference)
        inliers = np.asarray(labels) != -1
        if inliers.any():  # NMI on the documents that have a topic: what reassignment changes
            out["nmi_inliers"] = m.nmi(np.asarray(labels)[inliers], np.asarray(reference)[inliers])
    return out


def lda(docs: list[str], k: int, seed: int, top_words: int = 10, max_iter: int = 10):
    """scikit-learn's LDA (online variational Bayes) with k topics on the same word counts; each document's
    topic is its most probable one. Words seen in one document only are dropped (min_df=2)."""
    from sklearn.decomposition import LatentDirichletAllocation

    counter = vectorizer(min_df=2)
    counts = counter.fit_transform(docs)
    model = LatentDirichletAllocation(
        n_components=k, learning_method="online", max_iter=max_iter, random_state=seed, batch_size=256
    )
    theta = model.fit_transform(counts)
    vocab = counter.get_feature_names_out()
    words = {
        t: [(str(vocab[i]), float(row[i])) for i in np.argsort(-row)[:top_words]]
        for t, row in enumerate(model.components_)
    }
    return theta.argmax(axis=1), words


def run(corpus: Corpus, cfg: TopicConfig, encoder="minilm", precision="fp32", compare=(), progress=True) -> dict:
    """The recipe on a corpus, with its metrics, and the comparisons asked for ("lda", "bertopic",
    "outliers": each reassignment strategy too). CPU seconds per stage."""
    cpu = {}
    cached = []  # stages whose result (and cost, measured when computed) came from the cache
    t = time.process_time()
    vectors, cpu["embed"] = embeddings(corpus.texts, encoder, precision, progress)
    if time.process_time() - t < cpu["embed"] / 2:
        cached.append("embed")
    docs = [clean(x) for x in corpus.texts]
    tokens = tokenised(docs)
    t = time.process_time()
    t = time.process_time()
    points, cpu["reduce"] = reduced(vectors, cfg)
    if time.process_time() - t < cpu["reduce"] / 2:
        cached.append("reduce")
    model = fit(docs, vectors, cfg, points=points)
    cpu["recipe"] = time.process_time() - t
    out = {
        "data": corpus.name,
        "documents": len(docs),
        "encoder": encoder,
        "precision": precision,
        "config": asdict(cfg),
        "recipe": scores(model.labels, model.words, tokens, corpus.reference, model.clustered),
        "topic_words": {str(t): [w for w, _ in ws] for t, ws in model.words.items()},
        "sizes": {str(t): n for t, n in model.sizes.items()},
    }
    if "outliers" in compare:
        out["reassigned"] = {}
        for strategy in ("centroid", "ctfidf"):
            t = time.process_time()
            other = fit(docs, vectors, _replace(cfg, outliers=strategy), model.clustered)
            cpu[f"reassign_{strategy}"] = time.process_time() - t
            out["reassigned"][strategy] = scores(other.labels, other.words, tokens, corpus.reference)
    if "lda" in compare:
        t = time.process_time()
        labels, words = lda(docs, model.n_topics, cfg.seed, cfg.top_words)
        cpu["lda"] = time.process_time() - t
        out["lda"] = scores(labels, words, tokens, corpus.reference)
    if "bertopic" in compare:
        from .topic_package import compare_with_bertopic

        t = time.process_time()
        out["bertopic"] = compare_with_bertopic(docs, vectors, cfg, model, tokens, corpus.reference)
        cpu["bertopic"] = time.process_time() - t
    out["cpu_seconds"] = {k: round(v, 1) for k, v in cpu.items()}
    out["cached"] = cached
    return out


def _replace(cfg: TopicConfig, **changes) -> TopicConfig:
    from dataclasses import replace

    return replace(cfg, **changes)
