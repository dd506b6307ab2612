"""Topic-model metrics (layer 2: numpy, scipy and scikit-learn only).

NPMI coherence   for each topic, the mean over pairs of its top words of the normalised pointwise mutual
                 information of their co-occurrence in the reference texts, then the mean over topics; in
                 [-1, 1], higher = the words do occur together. Probabilities are shares of boolean
                 windows (window=None, the default: each text is one window, right for tweets and verses;
                 an int: sliding windows of that many tokens, a shorter text being one window), with
                 gensim's epsilon 1e-12 inside the logs. With whole texts this equals gensim's `c_npmi`
                 (tested); with sliding windows gensim undercounts (its window update forgets a word that
                 leaves the window while another copy of it stays), so ours counts each window's set.
topic diversity  the share of unique words among the top-k words of all topics (Dieng et al. 2020; the
                 BERTopic paper uses k = 25); 1 = no word repeats across topics.
outlier share    the share of documents left in the outlier topic (-1).
NMI              normalised mutual information of topic labels against reference labels (scikit-learn,
                 arithmetic mean normalisation); the outlier topic counts as one cluster, as it would for a
                 user who reads the labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

from ..errors import TcatError

EPSILON = 1e-12  # gensim's, so the numbers are comparable with OCTIS / BERTopic's published NPMI


def _windows(tokens: Sequence[str], vocab: dict[str, int], window: int | None) -> list[np.ndarray]:
    """The word ids of `vocab` in each window of one text (-1 stands for any other word)."""
    ids = np.fromiter((vocab.get(t, -1) for t in tokens), dtype=np.int64, count=len(tokens))
    if window is None or len(ids) <= window:
        return [ids]
    return list(np.lib.stride_tricks.sliding_window_view(ids, window))


def cooccurrence(texts: Sequence[Sequence[str]], words: Sequence[str], window: int | None = None):
    """(counts per word, counts per pair, number of windows) over boolean windows of the tokenised texts."""
    vocab = {w: i for i, w in enumerate(words)}
    rows, cols, n = [], [], 0
    for tokens in texts:
        for win in _windows(tokens, vocab, window):
            present = np.unique(win[win >= 0])
            rows.append(np.full(len(present), n))
            cols.append(present)
            n += 1
    if n == 0:
        raise TcatError("NPMI needs at least one reference text")
    r, c = (np.concatenate(rows), np.concatenate(cols)) if rows else (np.zeros(0, int), np.zeros(0, int))
    x = sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(n, len(words)))
    joint = (x.T @ x).toarray()
    return np.diag(joint).copy(), joint, n


def npmi_per_topic(
    topics: Sequence[Sequence[str]], texts: Sequence[Sequence[str]], window: int | None = None
) -> list[float]:
    """NPMI coherence of each topic (a list of its top words) against tokenised reference texts."""
    words = sorted({w for topic in topics for w in topic})
    single, joint, n = cooccurrence(texts, words, window)
    index = {w: i for i, w in enumerate(words)}
    out = []
    for topic in topics:
        if len(topic) < 2:
            raise TcatError(f"NPMI needs at least two words per topic, got {list(topic)}")
        scores = []
        for j in range(1, len(topic)):
            for i in range(j):
                a, b = index[topic[j]], index[topic[i]]
                p_ab = joint[a, b] / n
                p_a, p_b = single[a] / n, single[b] / n
                if p_a == 0 or p_b == 0:  # a word never seen in the reference texts: no evidence either way
                    scores.append(0.0)
                    continue
                pmi = np.log((p_ab + EPSILON) / (p_a * p_b))
                scores.append(float(pmi / -np.log(p_ab + EPSILON)))
        out.append(float(np.mean(scores)))
    return out


def npmi(topics: Sequence[Sequence[str]], texts: Sequence[Sequence[str]], window: int | None = None) -> float:
    """Mean NPMI coherence over topics."""
    if not topics:
        raise TcatError("NPMI needs at least one topic")
    return float(np.mean(npmi_per_topic(topics, texts, window)))


def topic_diversity(topics: Sequence[Sequence[str]], k: int = 25) -> float:
    """Unique words among the top-k words of every topic, over all those words."""
    tops = [list(t)[:k] for t in topics]
    total = sum(len(t) for t in tops)
    if total == 0:
        raise TcatError("topic diversity needs at least one topic word")
    return len({w for t in tops for w in t}) / total


def outlier_share(labels: Sequence[int]) -> float:
    labels = np.asarray(labels)
    if labels.size == 0:
        raise TcatError("outlier share of no documents")
    return float(np.mean(labels == -1))


def nmi(labels: Sequence[int], reference: Sequence) -> float:
    from sklearn.metrics import normalized_mutual_info_score

    if len(labels) != len(reference):
        raise TcatError(f"NMI: {len(labels)} topic labels but {len(reference)} reference labels")
    return float(normalized_mutual_info_score(reference, labels))
