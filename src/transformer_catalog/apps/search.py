"""Semantic search: embed a corpus, index it in Milvus (Milvus Lite, an embedded local file, by
default; --uri http://host:19530 for a Milvus server or cluster), query it, and measure retrieval.

The benchmark: every King James verse is a document; each held-out verse (every 20th, never seen
by a model fine-tuned here) is queried in its World English Bible wording, and should find its own
KJV verse. Reported: recall@1, recall@10 and MRR@10, for sentence encoders and a TF-IDF baseline.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import TcatError
from ..files import write_json

COLLECTION = "verses"


@dataclass
class Corpus:
    refs: list[str]  # document ids
    texts: list[str]  # documents
    queries: list[str]  # held-out queries ...
    answers: list[int]  # ... and the index of the document each should find


def load_corpus(data: str) -> Corpus:
    from ..data.parallel import sentence_pairs

    if data == "bible-kjv-web":
        from ..data import bible

        pairs = bible.aligned_pairs("engKJV2006eb", "engWEB2015eb")
        refs, texts, queries = [p.ref for p in pairs], [p.src for p in pairs], [p.tgt for p in pairs]
    elif data == "bible-sample":  # a smoke setting: the in-repo English verses, queried by themselves
        from ..data import bible

        pairs = bible.load_sample()
        refs, texts, queries = [p.ref for p in pairs], [p.src for p in pairs], [p.src for p in pairs]
    else:  # query<TAB>document pairs
        rows = sentence_pairs(data)
        refs, texts, queries = [str(i) for i in range(len(rows))], [b for _, b in rows], [a for a, _ in rows]
    held = list(range(0, len(refs), 20))  # the pairs data/corpora.split holds out of training
    return Corpus(refs, texts, [queries[i] for i in held], held)


def embed(
    encoder: str, texts: list[str], batch_size: int = 64, precision: str = "auto", progress: bool | None = None
) -> np.ndarray:
    """Unit vectors for `texts`. precision "auto" is bf16 where it measures faster on this CPU (its
    vectors stay within cosine 0.9999 of fp32: apps/embeddings.py), else fp32. progress (default:
    for more than one text) draws a bar on stderr with sentences/s and the time left."""
    from ..train.pretrained import resolve_encoder
    from .embeddings import SentenceEncoder

    model = SentenceEncoder(resolve_encoder(encoder), precision=precision)
    if not (len(texts) > 1 if progress is None else progress):
        return model.encode(texts, batch_size).numpy()
    with _EmbedProgress(len(texts), f"embedding with {encoder} ({model.precision})") as bar:
        return model.encode(texts, batch_size, on_batch=bar.advance).numpy()


class _EmbedProgress:
    """A rich bar on stderr: done/total, sentences/s, elapsed, ETA. Where stderr is not a terminal
    (logs, pipes) rich prints the final state once."""

    def __init__(self, total: int, what: str):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn(what),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} sentences/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.task = self.bar.add_task(what, total=total, rate="-")
        self.done, self.started = 0, 0.0

    def __enter__(self):
        self.bar.__enter__()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.bar.__exit__(*exc)

    def advance(self, n: int) -> None:
        self.done += n
        rate = self.done / max(time.perf_counter() - self.started, 1e-9)
        self.bar.update(self.task, advance=n, rate=f"{rate:,.0f}")


@contextmanager
def _milvus(uri: str, create: bool = False):
    """A Milvus client for `uri`; any Milvus failure becomes one line naming the URI. A local file
    is only created when building an index."""
    try:
        from pymilvus import MilvusClient, MilvusException
    except ImportError:
        raise TcatError("semantic search needs Milvus: pip install pymilvus milvus-lite") from None
    for name in ("milvus_lite", "pymilvus"):  # their failures reach the user as our one line, not as logged tracebacks
        logging.getLogger(name).setLevel(logging.CRITICAL)
    if "://" not in uri:
        if not create and not Path(uri).exists():  # milvus-lite keeps a file or a folder there
            raise TcatError(f"{uri}: no index; build one with tcat index --uri {uri}")
        try:
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise TcatError(f"{uri}: cannot create the index file ({e.strerror})") from None
    try:
        yield MilvusClient(uri)
    except MilvusException as e:
        raise TcatError(f"{uri}: Milvus: {e.message}") from None


def build_index(uri: str, vectors: np.ndarray, corpus: Corpus, encoder: str) -> None:
    with _milvus(uri, create=True) as client:
        if client.has_collection(COLLECTION):
            client.drop_collection(COLLECTION)
        client.create_collection(COLLECTION, dimension=vectors.shape[1], metric_type="COSINE")
        for start in range(0, len(vectors), 1000):
            client.insert(
                COLLECTION,
                [
                    {"id": i, "vector": vectors[i].tolist(), "ref": corpus.refs[i], "text": corpus.texts[i][:4000]}
                    for i in range(start, min(start + 1000, len(vectors)))
                ],
            )
    if "://" not in uri:  # which encoder made the index, for `tcat search`
        write_json(Path(uri + ".json"), {"encoder": encoder, "dimension": int(vectors.shape[1])})


def search(uri: str, queries: np.ndarray, k: int = 10) -> list[list[dict]]:
    with _milvus(uri) as client:
        if not client.has_collection(COLLECTION):
            raise TcatError(f"{uri}: no index; build one with tcat index --uri {uri}")
        client.load_collection(COLLECTION)  # a collection opened by a new process starts released
        hits = client.search(COLLECTION, data=[q.tolist() for q in queries], limit=k, output_fields=["ref", "text"])
    return [[{"id": h["id"], "score": h["distance"], **h["entity"]} for h in row] for row in hits]


def index_encoder(uri: str) -> str:
    meta = Path(uri + ".json")
    if not meta.is_file():
        raise TcatError(f"{uri}: no index metadata ({meta.name}); pass --encoder")
    try:
        encoder = json.loads(meta.read_text(encoding="utf-8"))["encoder"]
    except (OSError, ValueError, TypeError, KeyError):
        raise TcatError(f'{meta}: damaged index metadata (expected {{"encoder": ...}}); pass --encoder') from None
    if not isinstance(encoder, str):
        raise TcatError(f"{meta}: damaged index metadata (encoder is not a name); pass --encoder")
    return encoder


def tfidf_rank(corpus: Corpus, k: int = 10) -> list[list[int]]:
    """The lexical baseline: TF-IDF (words and word pairs, sublinear tf) cosine, exhaustive."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1)
    docs = vec.fit_transform(corpus.texts)
    ranked = []
    for start in range(0, len(corpus.queries), 256):
        scores = (vec.transform(corpus.queries[start : start + 256]) @ docs.T).toarray()
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        ranked += [list(row[np.argsort(-scores[r, row])]) for r, row in enumerate(top)]
    return ranked


def retrieval_metrics(ranked: list[list[int]], answers: list[int]) -> dict:
    """recall@1, recall@10 and MRR@10 (a miss beyond rank 10 scores 0)."""
    r1 = r10 = mrr = 0.0
    for row, gold in zip(ranked, answers):
        if gold in row[:10]:
            rank = row.index(gold) + 1
            r10 += 1
            r1 += rank == 1
            mrr += 1 / rank
    n = max(len(answers), 1)
    return {
        "recall@1": round(r1 / n, 4),
        "recall@10": round(r10 / n, 4),
        "mrr@10": round(mrr / n, 4),
        "queries": len(answers),
    }
