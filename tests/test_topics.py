"""Topic modelling (issue 17 item 3): the metrics against gensim and by hand, c-TF-IDF by its formula,
outlier reassignment, the whole recipe against the `bertopic` package on the same MiniLM embeddings of
in-repo KJV verses, determinism under a seed, and `tcat topics` end to end."""

from __future__ import annotations

import json
import math
import os
import random

import numpy as np
import pytest
from repo_scripts import script_module

from transformer_catalog.apps import topics as tp
from transformer_catalog.errors import TcatError
from transformer_catalog.metrics import topics as m


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private tcat cache for the embeddings of this module (the CLI test reads them back)."""
    old = os.environ.get("TCAT_CACHE")
    os.environ["TCAT_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield os.environ["TCAT_CACHE"]
    if old is None:
        os.environ.pop("TCAT_CACHE")
    else:
        os.environ["TCAT_CACHE"] = old


@pytest.fixture(scope="module")
def verses(cache):
    """200 in-repo KJV verses (12 books, 6 genres) and their MiniLM embeddings."""
    import torch

    from transformer_catalog.apps.topic_runs import embeddings, load_corpus

    torch.set_num_threads(1)
    corpus = load_corpus("kjv-sample", limit=200, seed=0)
    vectors, _ = embeddings(corpus.texts, "minilm", "fp32", progress=False)
    return corpus, [tp.clean(t) for t in corpus.texts], vectors


# -- metrics ---------------------------------------------------------------------------------------


def test_npmi_equals_gensim_c_npmi_with_whole_texts_as_windows():
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel

    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(30)]
    texts = [[rng.choice(vocab[:15] if d % 2 else vocab[10:]) for _ in range(rng.randint(3, 25))] for d in range(200)]
    topics = [vocab[:5], vocab[12:18], vocab[20:26]]
    theirs = CoherenceModel(
        topics=topics, texts=texts, dictionary=Dictionary(texts), coherence="c_npmi", window_size=1000
    ).get_coherence_per_topic()
    ours = m.npmi_per_topic(topics, texts, window=None)
    assert np.allclose(ours, theirs, atol=1e-12), (ours, theirs)
    assert ours[0] > 0.1 and ours[1] < ours[0]  # words drawn together cohere; a topic across the halves less


def test_npmi_by_hand_with_sliding_windows():
    # windows of 2 over "a b c" and "a x a": {a,b} {b,c} {a,x} {x,a}; a repeated word stays in its window
    texts = [["a", "b", "c"], ["a", "x", "a"]]
    n, p_a, p_b, p_ab = 4, 3 / 4, 2 / 4, 1 / 4
    expect_ab = math.log((p_ab + m.EPSILON) / (p_a * p_b)) / -math.log(p_ab + m.EPSILON)
    assert m.npmi([["a", "b"]], texts, window=2) == pytest.approx(expect_ab, abs=1e-12)
    assert n == m.cooccurrence(texts, ["a"], window=2)[2]
    never = math.log(m.EPSILON / (p_a * 1 / 4)) / -math.log(m.EPSILON)  # never in one window: near -1
    assert m.npmi([["a", "c"]], texts, window=2) == pytest.approx(never, abs=1e-12) and -1 < never < -0.9
    assert m.npmi([["b", "c"]], [["b", "c"], ["d"]] * 3) == pytest.approx(1.0, abs=1e-9)  # only together: 1


def test_diversity_outlier_share_and_nmi_by_hand():
    assert m.topic_diversity([["a", "b"], ["b", "c"]]) == 3 / 4
    assert m.topic_diversity([["a", "b", "c"], ["d", "a", "e"]], k=2) == 3 / 4  # only the top 2 of each
    assert m.outlier_share([-1, 0, 0, -1, 1]) == 2 / 5
    assert m.nmi([0, 0, 1, 1], ["x", "x", "y", "y"]) == pytest.approx(1.0)
    assert m.nmi([5, 5, 7, 7], ["x", "y", "x", "y"]) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(TcatError, match="2 topic labels but 3 reference labels"):
        m.nmi([0, 1], ["a", "b", "c"])


# -- the recipe's parts ------------------------------------------------------------------------------


def test_ctfidf_is_the_class_based_formula():
    docs = ["apple apple banana", "apple cherry", "dates dates dates", "stray apple"]
    weights = tp.ctfidf(docs, [0, 0, 1, -1])
    counts = {0: {"apple": 3, "banana": 1, "cherry": 1}, 1: {"dates": 3}, -1: {"stray": 1, "apple": 1}}
    total = {w: sum(c.get(w, 0) for c in counts.values()) for w in weights.words}
    average = int(np.mean([sum(c.values()) for c in counts.values()]))  # (5 + 3 + 2) / 3 -> 3
    dense = weights.matrix.toarray()
    for row, c in zip(dense, weights.classes):
        n = sum(counts[c].values())
        expect = [counts[c].get(w, 0) / n * math.log(1 + average / total[w]) for w in weights.words]
        assert np.allclose(row, expect), (c, row, expect)
    top = weights.top_words(2)
    assert [w for w, _ in top[0]] == ["apple", "banana"] and [w for w, _ in top[1]] == ["dates"]


def test_by_size_numbers_topics_largest_first_and_keeps_outliers():
    assert tp.by_size([7, 3, 3, -1, 7, 3, 9]).tolist() == [1, 0, 0, -1, 1, 0, 2]
    assert tp.by_size([4, 2, 2, 4]).tolist() == [0, 1, 1, 0]  # a tie: the topic seen first comes first


def test_reassignment_moves_outliers_to_the_nearest_topic_above_the_threshold():
    emb = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [-1, -1]], dtype=float)
    labels = np.array([0, 0, 1, 1, -1, -1, -1])
    cfg = tp.TopicConfig(outliers="centroid")
    assert tp.reassign(labels, cfg, emb).tolist() == [0, 0, 1, 1, 0, 1, -1]  # [-1,-1]: negative cosine to both
    strict = tp.TopicConfig(outliers="centroid", threshold=0.95)
    assert tp.reassign(labels, strict, emb).tolist() == [0, 0, 1, 1, 0, -1, -1]  # [.3,.7] to topic 1: cos 0.94
    docs = ["apple banana", "apple cherry", "dates figs", "dates grapes", "apple", "figs grapes", "zebra"]
    weights = tp.ctfidf(docs, labels)
    by_words = tp.reassign(labels, tp.TopicConfig(outliers="ctfidf"), docs=docs, weights=weights)
    assert by_words.tolist() == [0, 0, 1, 1, 0, 1, -1]  # "zebra" shares no word with a topic: stays out
    assert tp.reassign(labels, tp.TopicConfig(), emb).tolist() == labels.tolist()


def test_config_checks_name_the_problem():
    with pytest.raises(TcatError, match="needs at least 16 documents"):
        tp.TopicConfig().check(5)
    with pytest.raises(TcatError, match="outliers 'nearest': expected one of none, centroid, ctfidf"):
        tp.TopicConfig(outliers="nearest").check(100)
    with pytest.raises(TcatError, match="no words to describe topics"):
        tp.ctfidf(["the and of", "is it"], [0, 1])
    far = np.eye(12)  # twelve points, each alone: no dense region
    with pytest.raises(TcatError, match=r"HDBSCAN found no topic in 12 documents: .* or reduce with --reducer umap"):
        tp.fit([f"word{i}" for i in range(12)], far, tp.TopicConfig(reducer="none", min_cluster_size=3))


# -- the recipe against the package, on MiniLM embeddings of KJV verses --------------------------------


def _package_check(docs, vectors, cfg):
    """Our partition, words and reassignment equal bertopic's on the same inputs."""
    from sklearn.metrics import adjusted_rand_score

    from transformer_catalog.apps.topic_package import run_bertopic

    ours = tp.fit(docs, vectors, cfg)
    clustered, after, words = run_bertopic(docs, vectors, cfg)
    after = after[cfg.outliers]
    assert ours.n_topics >= 2 and (ours.clustered == -1).any()  # a comparison with something to compare
    assert adjusted_rand_score(ours.clustered, clustered) == 1.0
    assert np.array_equal(ours.clustered == -1, clustered == -1)
    ours_before = tp.ctfidf(docs, ours.clustered).top_words(cfg.top_words)
    for t in range(ours.n_topics):  # the same topic carries the same number in both (numbered by size)
        mine, theirs = dict(ours_before[t]), dict(words[t])
        assert np.allclose(sorted(mine.values()), sorted(theirs.values())), t
        last = min(mine.values())  # words tied at the cut may be ordered (and cut) differently
        assert all(theirs.get(w) == pytest.approx(v) for w, v in mine.items() if v > last + 1e-12), t
    assert adjusted_rand_score(ours.labels, after) == 1.0
    assert (ours.labels == -1).sum() < (ours.clustered == -1).sum()
    return ours


@pytest.mark.parametrize("outliers", ["centroid", "ctfidf"])
def test_recipe_equals_the_bertopic_package_on_the_same_embeddings(verses, outliers):
    _, docs, vectors = verses
    _package_check(docs, vectors, tp.TopicConfig(reducer="none", min_cluster_size=5, outliers=outliers))


@pytest.mark.slow
def test_umap_recipe_is_deterministic_and_equals_the_package(cache):
    """All 635 in-repo verses (200 fall into two clean UMAP clusters with no outliers to reassign)."""
    from transformer_catalog.apps.topic_runs import embeddings, load_corpus

    corpus = load_corpus("kjv-sample")
    docs = [tp.clean(t) for t in corpus.texts]
    vectors, _ = embeddings(corpus.texts, "minilm", "fp32", progress=False)
    cfg = tp.TopicConfig(min_cluster_size=10, outliers="centroid", seed=0)
    first = _package_check(docs, vectors, cfg)
    again = tp.fit(docs, vectors, cfg)
    assert np.array_equal(first.labels, again.labels) and first.words == again.words
    reduced = [tp.reduce(vectors, tp.TopicConfig(seed=s)) for s in (0, 0, 1)]
    assert np.array_equal(reduced[0], reduced[1]) and not np.allclose(reduced[0], reduced[2])
    assert m.nmi(first.labels, corpus.reference) > 0.2  # topics follow genre, well above chance


# -- tcat topics -----------------------------------------------------------------------------------


def test_tcat_topics_end_to_end(verses, tmp_path, capsys):
    from transformer_catalog.cli import main

    corpus, docs, vectors = verses
    out = tmp_path / "topics.json"
    argv = ["topics", "--data", "kjv-sample", "--limit", "200", "--reducer", "none", "--min-cluster-size", "5"]
    code = main([*argv, "--outliers", "ctfidf", "--compare", "lda", "--quiet", "--threads", "1", "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    expect = tp.fit(docs, vectors, tp.TopicConfig(reducer="none", min_cluster_size=5, outliers="ctfidf"))
    assert result["documents"] == 200 and result["recipe"]["topics"] == expect.n_topics
    assert result["topic_words"]["0"] == [w for w, _ in expect.words[0]]
    assert " ".join(result["topic_words"]["0"]) in printed
    assert result["recipe"]["outlier_share"] == pytest.approx(m.outlier_share(expect.labels))
    assert result["recipe"]["nmi"] == pytest.approx(m.nmi(expect.labels, corpus.reference))
    assert result["lda"]["topics"] == expect.n_topics and result["lda"]["outlier_share"] == 0.0
    assert result["cpu_seconds"]["embed"] > 0  # the cost of the cached embeddings travels with them


def test_load_corpus_reads_a_text_file_and_draws_a_fixed_subset(tmp_path):
    from transformer_catalog.apps.topic_runs import load_corpus

    path = tmp_path / "docs.txt"
    path.write_text("".join(f"document number {i}\n" for i in range(50)) + "\n   \n!!!\n", encoding="utf-8")
    full = load_corpus(str(path))
    assert len(full.texts) == 50 and full.reference is None  # blank lines and symbol-only lines dropped
    a, b = load_corpus(str(path), limit=10, seed=1), load_corpus(str(path), limit=10, seed=1)
    assert a.texts == b.texts and a.texts == sorted(a.texts, key=full.texts.index)
    assert load_corpus(str(path), limit=10, seed=2).texts != a.texts
    sample = load_corpus("kjv-sample")
    assert set(sample.reference) >= {"law", "gospels", "epistles", "minor prophets"}
    tweets = load_corpus("tweets-sample")
    assert len(tweets.texts) == 60 and tweets.reference is None


def test_report_reads_the_numbers_and_says_where_lda_wins(tmp_path):

    report_topics = script_module("report_topics")
    report_topics.RESULTS = tmp_path
    ours = {"topics": 4, "npmi": 0.21, "diversity": 0.6, "outlier_share": 0.1, "nmi": 0.3, "nmi_inliers": 0.35}
    ours["outlier_share_clustered"] = 0.4
    result = {
        "documents": 1000, "precision": "bf16", "command": "python benchmarks/bench_topics.py --data kjv",
        "config": {"n_neighbors": 15, "n_components": 5, "min_dist": 0.0, "seed": 0, "min_cluster_size": 9,
                   "top_words": 10},
        "machine": {"cpu": "CPU X", "isa": ["avx512_bf16"], "torch": "2.x", "threads": 1},
        "cpu_seconds_total": 12.5, "wall_seconds": 40.0, "recipe": ours,
        "reassigned": {"centroid": {**ours, "outlier_share": 0.0, "npmi": 0.25, "outlier_share_clustered": 0.0}},
        "lda": {"topics": 4, "npmi": -0.05, "diversity": 0.9, "outlier_share": 0.0, "nmi": 0.1},
        "cpu_seconds": {"embed": 5.0, "reduce": 3.0, "recipe": 1.0, "reassign_centroid": 0.2, "lda": 2.0},
        "topic_words": {"0": ["moses", "egypt"], "1": ["jesus", "paul"]}, "sizes": {"0": 300, "1": 200, "-1": 100},
    }  # fmt: skip
    (tmp_path / "topics.json").write_text(json.dumps({"kjv": result}))
    lines: list[str] = []
    report_topics.section(lines)
    text = "\n".join(lines)
    assert "| recipe (HDBSCAN) | 4 | 0.210 | 0.600 | 0.400 -> 0.100 | 0.300 | 9 (embedding 5, UMAP 3) |" in text
    assert "| recipe + centroid reassignment | 4 | 0.250 | 0.600 | 0.000 | 0.300 | +0.2 |" in text
    assert "wins on NPMI (0.210 vs -0.050), NMI against genre (0.300 vs 0.100)" in text
    assert "**LDA wins on topic diversity (0.900 vs 0.600)**" in text
    assert "avx512_bf16" in text and "`python benchmarks/bench_topics.py --data kjv`" in text
    assert "- 0 (300): moses, egypt" in text
