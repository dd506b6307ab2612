"""The pipeline API (issue 17 item 5): task names and aliases, zero-shot classification by similarity to
label descriptions (scores recomputed by hand; beats the majority class on the in-repo VADER 4-domain
sample while the control with swapped descriptions does not), batching that changes no answer, explicit
truncation, NER through C4's predict_entities, summarisation and translation runs, and the CLI."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from transformer_catalog.apps.pipeline import TASKS, canonical_task, pipeline
from transformer_catalog.apps.zero_shot import DOMAIN_DESCRIPTIONS, zero_shot_benchmark
from transformer_catalog.errors import TcatError

TEXTS = [
    "I loved this film: the actors and the script are wonderful.",
    "@anna lol cant wait for tonight :)",
    "The senator's budget plan would raise taxes on the middle class.",
    "The battery died after two days and the headphone jack is loose.",
]


@pytest.fixture(scope="module")
def zero_shot():
    return pipeline("zero-shot-classification", "minilm", batch_size=3)


def test_the_package_exposes_pipeline_without_importing_torch_first():
    import subprocess
    import sys

    code = "import sys, transformer_catalog as t; assert callable(t.pipeline); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    import transformer_catalog

    with pytest.raises(TcatError, match="unknown pipeline task 'bogus'"):
        transformer_catalog.pipeline("bogus")


def test_tasks_and_aliases():
    assert canonical_task("sentiment-analysis") == "sentiment"
    assert canonical_task("summarisation") == "summarization"
    assert canonical_task("token-classification") == "ner"
    assert set(TASKS) >= {"zero-shot-classification", "feature-extraction", "translation"}
    with pytest.raises(TcatError, match="unknown pipeline task 'fill-mask'"):
        pipeline("fill-mask")
    with pytest.raises(TcatError, match="needs a model: a run folder written by tcat ner train"):
        pipeline("ner")
    with pytest.raises(TcatError, match="takes no option beam"):
        pipeline("feature-extraction", beam=4)


def test_zero_shot_scores_are_cosines_to_the_mean_description(zero_shot):
    enc = zero_shot.encoder
    descriptions = {"movies": ["a movie review", "a film critic's opinion"], "tweets": "a tweet"}
    out = zero_shot(TEXTS[:2], candidate_labels=["tweets", "movies"], descriptions=descriptions)
    movie = F.normalize(enc.encode(descriptions["movies"]).mean(0), dim=0)
    tweet = enc.encode(["a tweet"])[0]
    for text, answer in zip(TEXTS[:2], out):
        v = enc.encode([text])[0]
        expect = {"movies": float(v @ movie), "tweets": float(v @ tweet)}
        assert answer["sequence"] == text
        assert answer["labels"] == sorted(expect, key=lambda k: -expect[k])  # best first
        assert answer["scores"] == pytest.approx([expect[k] for k in answer["labels"]], abs=1e-4)
    assert [a["labels"][0] for a in out] == ["movies", "tweets"]
    single = zero_shot(TEXTS[0], candidate_labels="tweets, movies", descriptions=descriptions)
    assert single == out[0]  # one text in, one answer out; labels may be a comma-separated string


def test_zero_shot_beats_the_majority_on_the_sample_and_the_swapped_control_does_not():
    r = zero_shot_benchmark(sample=True, progress=False)
    test = r["test"]
    # measured on the sample: descriptions 0.625, names 0.54, swapped descriptions 0.08, majority 0.25
    assert test["descriptions"]["accuracy"] >= 0.5 > test["majority"]["accuracy"]
    assert test["control_shifted_descriptions"]["accuracy"] < test["majority"]["accuracy"]
    assert sum(sum(row.values()) for row in test["descriptions"]["confusion"].values()) == test["n"]
    assert r["labels"] == sorted(DOMAIN_DESCRIPTIONS) and r["sentiment"] is None


def test_batching_and_sorting_change_no_answer(zero_shot):
    labels = ["movies", "tweets", "nyt", "amazon"]
    one = [zero_shot(t, candidate_labels=labels) for t in TEXTS]
    assert zero_shot(TEXTS, candidate_labels=labels) == one
    feats = pipeline("feature-extraction", batch_size=1)
    a, b = torch.tensor(feats(TEXTS)), torch.tensor(pipeline("feature-extraction", batch_size=64)(TEXTS))
    assert a.shape == (4, 384) and torch.allclose(a, b, atol=1e-5)
    assert torch.allclose(a.norm(dim=1), torch.ones(4), atol=1e-5)


def test_over_length_input_is_refused_unless_truncated(zero_shot):
    long = " ".join(["word"] * 300)  # 300 word pieces + [CLS] [SEP] > 256
    with pytest.raises(TcatError, match=r"input 1 is 302 tokens, longer than minilm's maximum of 256"):
        zero_shot(["short", long], candidate_labels=["a", "b"])
    cut = pipeline("feature-extraction", truncation=True)
    # truncation keeps the first tokens: what comes after the limit changes nothing, what comes before does
    base = torch.tensor(cut(long))
    assert torch.allclose(base, torch.tensor(cut(long + " tail of other words")), atol=1e-6)
    assert not torch.allclose(base, torch.tensor(cut("other words " + long)), atol=1e-3)


def test_label_sets_are_checked_before_anything_loads():
    with pytest.raises(TcatError, match="at least two candidate labels, got 1"):
        pipeline("zero-shot-classification", labels=["only"])
    with pytest.raises(TcatError, match="repeat a label"):
        pipeline("text-classification", labels=["a", "b", "a"])
    with pytest.raises(TcatError, match="not candidates: c"):
        pipeline("text-classification", labels=["a", "b"], descriptions={"c": "x"})


def test_sentiment_and_text_classification(zero_shot):
    sentiment = pipeline("sentiment-analysis")
    got = sentiment(["a dull, boring, tedious mess", "a joyous, wonderful, moving film"])
    assert [g["label"] for g in got] == ["negative", "positive"]
    clf = pipeline(
        "text-classification", labels=["movies", "tweets", "nyt", "amazon"], descriptions=DOMAIN_DESCRIPTIONS
    )
    top = clf(TEXTS)
    assert [t["label"] for t in top] == ["movies", "tweets", "nyt", "amazon"]
    full = zero_shot(TEXTS, candidate_labels=["movies", "tweets", "nyt", "amazon"], descriptions=DOMAIN_DESCRIPTIONS)
    assert [t["score"] for t in top] == [f["scores"][0] for f in full]


def test_ner_pipeline_is_predict_entities(tmp_path):
    from transformer_catalog.apps.ner import predict_entities, train_tagger
    from transformer_catalog.apps.ner_models import save_tagger
    from transformer_catalog.data import ner as ner_data

    data = ner_data.load_ner("wnut16-sample")
    small = {"train": data["train"][:24], "valid": data["train"][:8], "test": data["test"][:4]}
    tagger, _ = train_tagger("bilstm", small, epochs=1, lr=1e-2, batch=8, progress=False)
    save_tagger(tagger, tmp_path, {})
    texts = [" ".join(w) for w, _ in data["test"][:5]]
    ner = pipeline("token-classification", tmp_path, batch_size=2)
    for how in ("simple", "none"):
        assert ner(texts, aggregation=how) == predict_entities(texts, tmp_path, aggregation=how)


def test_cli_answers_one_json_line_per_text(tmp_path, capsys):
    from transformer_catalog.cli import main

    out = tmp_path / "answers.json"
    argv = ["pipeline", "zero-shot-classification", *TEXTS[:2], "--labels", "tweets,movies", "--threads", "1"]
    assert main([*argv, "--describe", "tweets=a tweet", "--json", str(out)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["labels"][0] for x in lines] == ["movies", "tweets"] and json.loads(out.read_text()) == lines
