"""The multi-class benchmark (apps/multiclass.py, `tcat multiclass`): bootstrap macro-F1 is the metric it
claims to be, label sets are checked, Word2Vec + logistic regression learns, and the whole grid runs on
the in-repo samples through the CLI into a JSON with its command, CPU seconds and machine."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from repo_scripts import script_module

from transformer_catalog.apps import multiclass as mc
from transformer_catalog.apps.classify import scores
from transformer_catalog.cli import main
from transformer_catalog.data.bible import load_sample
from transformer_catalog.data.course import parse_labelled
from transformer_catalog.errors import TcatError


def test_resampled_macro_f1_matches_the_plain_formula_and_sklearn():
    from sklearn.metrics import f1_score

    rng = random.Random(0)
    gold = [rng.randrange(4) for _ in range(300)]
    pred = [g if rng.random() < 0.6 else rng.randrange(4) for g in gold]
    full = np.arange(len(gold))[None]
    ours = mc.macro_f1_resampled(pred, gold, 4, full)[0]
    assert round(ours, 4) == scores(pred, gold)["macro_f1"]
    assert ours == pytest.approx(f1_score(gold, pred, average="macro"), abs=1e-12)
    idx = mc.resamples(len(gold), 50, seed=1)
    by_row = [f1_score(np.asarray(gold)[i], np.asarray(pred)[i], average="macro") for i in idx[:5]]
    assert mc.macro_f1_resampled(pred, gold, 4, idx[:5]) == pytest.approx(by_row, abs=1e-12)


def test_bootstrap_interval_and_paired_difference():
    rng = random.Random(1)
    gold = [rng.randrange(3) for _ in range(400)]
    good = [g if rng.random() < 0.8 else (g + 1) % 3 for g in gold]
    bad = [g if rng.random() < 0.4 else (g + 1) % 3 for g in gold]
    idx = mc.resamples(len(gold), 500, seed=0)
    lo, hi = mc.interval(mc.macro_f1_resampled(good, gold, 3, idx))
    point = scores(good, gold)["macro_f1"]
    assert lo < point < hi and hi - lo < 0.15
    assert mc.interval(mc.macro_f1_resampled(gold, gold, 3, idx)) == [1.0, 1.0]
    same = mc.paired_difference(good, good, gold, 3, idx)
    assert same == {"difference": 0.0, "ci95": [0.0, 0.0]}
    lead = mc.paired_difference(good, bad, gold, 3, idx)
    assert lead["difference"] == pytest.approx(point - scores(bad, gold)["macro_f1"], abs=2e-4)
    assert 0 < lead["ci95"][0] < lead["difference"] < lead["ci95"][1]


def test_label_sets_are_checked():
    one = {"train": [("a", "x")] * 5, "valid": [("b", "x")], "test": [("c", "x")]}
    with pytest.raises(TcatError, match=r"mine: the training split has 1 class \(x\)"):
        mc.as_indices(one, "mine")
    unseen = {"train": [("a", "x"), ("b", "y")], "valid": [("c", "x")], "test": [("d", "z")]}
    with pytest.raises(TcatError, match=r"mine: test label 'z' is not in the training split"):
        mc.as_indices(unseen, "mine")
    data, names = mc.as_indices({**unseen, "test": [("d", "y")]}, "mine")
    assert names == ["x", "y"] and data["train"] == [("a", 0), ("b", 1)] and data["test"] == [("d", 1)]


def test_user_sets_parse_and_split():
    text = "".join(f"{'pos' if i % 2 else 'neg'}\ttext {i}\n" for i in range(40))
    splits = parse_labelled(text, "f.tsv")
    assert [len(splits[s]) for s in ("train", "valid", "test")] == [32, 4, 4]
    assert sorted(t for v in splits.values() for t, _ in v) == sorted(f"text {i}" for i in range(40))
    with pytest.raises(TcatError, match=r"f.tsv:2: expected label<TAB>text"):
        parse_labelled("a\tb\nno tab here\n", "f.tsv")


def test_word2vec_logreg_learns_language_identification():
    rows = [(p.src, 0) for p in load_sample()] + [(p.tgt, 1) for p in load_sample()]
    random.Random(0).shuffle(rows)
    pred, extra = mc.word2vec_logreg(rows[:900], rows[900:1100], dim=32, epochs=5)
    assert scores(pred, [y for _, y in rows[900:1100]])["accuracy"] > 0.9 and extra["vocabulary"] > 500


def test_the_grid_runs_on_the_samples_through_the_cli(tmp_path, capsys):
    out = tmp_path / "multiclass_sample.json"
    argv = ["multiclass", "--data", "fine-food,vader-domains", "--model", "tfidf,word2vec,bert-mlm", "--sample",
            "--epochs", "1", "--bert-steps", "3", "--max-len", "32", "--bootstrap", "50", "--quiet",
            "--threads", "1", "--json", str(out)]  # fmt: skip
    assert main(argv) == 0
    r = json.loads(out.read_text())
    assert r["command"].startswith("tcat multiclass --data fine-food,vader-domains --model tfidf,word2vec,bert-mlm")
    assert r["sample"] and r["cpu_seconds"] > 0 and "isa" in r["machine"]
    assert list(r["datasets"]) == ["fine-food", "vader-domains"]
    vader = r["datasets"]["vader-domains"]
    assert vader["labels"] == ["amazon", "movies", "nyt", "tweets"] and vader["test"] == 24
    for m in vader["models"].values():
        assert m["ci95"][0] <= m["macro_f1"] <= m["ci95"][1] and m["cpu_s"] >= 0
    assert vader["models"]["bert-mlm"]["pretraining"]["step"] == 3
    assert set(vader["versus"]) == {"bert-mlm-tfidf", "bert-mlm-word2vec"}
    assert vader["best"] == max(vader["models"], key=lambda k: vader["models"][k]["macro_f1"])
    assert "fine-food (2 classes, 12 test texts)" in capsys.readouterr().out
    _check_report(tmp_path, r)


def _check_report(folder, r):
    """benchmarks/report_course.py renders the shipped JSON: every number from the file, none typed in."""
    report = script_module("report_course")
    report.RESULTS = folder
    lines: list[str] = []
    report.section(lines)
    text = "\n".join(lines)
    assert r["command"] in text and ("avx" in text or "no avx2" in text)
    for d in r["datasets"].values():
        for model, m in d["models"].items():
            row = next(line for line in lines if line.startswith(f"| {report.NAMES[model]} |"))
            assert f"{m['macro_f1']:.3f}" in row and f"[{m['ci95'][0]:.3f}, {m['ci95'][1]:.3f}]" in row
        diff = d["versus"][f"bert-mlm-{max(('tfidf', 'word2vec'), key=lambda b: d['models'][b]['macro_f1'])}"]
        assert f"{diff['difference']:+.3f}" in text
    png = report.figure(folder / "multiclass.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
