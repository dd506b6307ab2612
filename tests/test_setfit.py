"""SetFit (issue 17 item 2): the few-shot draw, the pairs, the contrastive stage pulling same-label texts
together on real VADER snippets (the course's in-repo sample), plain fine-tuning, the benchmark's
summary and curve, `tcat setfit` end to end, and (slow) the `setfit` package as an oracle of the pair
sampler and of the whole recipe."""

import json
from collections import Counter

import pytest
import torch
from repo_scripts import script_module

from transformer_catalog.apps.setfit import (
    Body,
    SetFitConfig,
    contrastive_tune,
    make_pairs,
    per_class_sample,
    plain_fine_tune,
    run_method,
)
from transformer_catalog.apps.setfit_bench import benchmark, gain, load_data, plan_runs, plot, summarise
from transformer_catalog.cli import main
from transformer_catalog.errors import TcatError

ROWS = [(f"text {i}", i % 3) for i in range(30)]  # 10 per label


def test_per_class_sample_draws_exactly_k_of_each_label_reproducibly():
    a = per_class_sample(ROWS, 4, seed=1)
    assert Counter(y for _, y in a) == {0: 4, 1: 4, 2: 4}
    assert len({t for t, _ in a}) == 12 and set(a) <= set(ROWS)
    assert a == per_class_sample(ROWS, 4, seed=1)
    assert {t for t, _ in a} != {t for t, _ in per_class_sample(ROWS, 4, seed=2)}


def test_per_class_sample_refuses_fewer_examples_than_asked_and_a_single_label():
    with pytest.raises(TcatError, match=r"label 0 has 10 example\(s\), fewer than the 11 per class asked"):
        per_class_sample(ROWS, 11, seed=0)
    with pytest.raises(TcatError, match="needs at least two classes"):
        per_class_sample([(t, 0) for t, _ in ROWS], 2, seed=0)


def test_pairs_give_every_example_r_positive_and_r_negative_partners():
    labels = [y for _, y in ROWS]
    pairs = make_pairs(labels, iterations=3, max_pairs=10**6, seed=0)
    assert len(pairs) == 2 * 3 * len(labels)
    for i in range(len(labels)):
        mine = [(j, t) for a, j, t in pairs if a == i]
        assert sum(t == 1.0 for _, t in mine) == 3 and sum(t == 0.0 for _, t in mine) == 3
    assert all((labels[i] == labels[j]) == (t == 1.0) for i, j, t in pairs)
    assert all(i != j for i, j, t in pairs)  # a label with other examples never pairs one with itself
    cut = make_pairs(labels, iterations=3, max_pairs=40, seed=0)
    assert cut == pairs[:40] and 10 < sum(t for _, _, t in cut) < 30  # the shuffled cut stays near balance
    assert make_pairs(labels, 3, 40, seed=1) != cut


def _pair_margin(body: Body, rows) -> float:
    """Mean cosine of same-label pairs minus mean cosine of different-label pairs."""
    v = body.encode([t for t, _ in rows])
    y = torch.tensor([label for _, label in rows])
    cos, same = v @ v.T, y[:, None] == y[None, :]
    off = ~torch.eye(len(rows), dtype=torch.bool)
    return (cos[same & off].mean() - cos[~same].mean()).item()


def test_contrastive_stage_pulls_held_out_texts_of_a_label_together():
    data = load_data("vader-domains", sample=True)
    cfg = SetFitConfig(iterations=2, max_pairs=96, pair_batch=16, lr=3e-4, precision="fp32")
    body = Body("minilm", cfg.max_len, cfg.precision)
    before = _pair_margin(body, data["test"])
    train = per_class_sample(data["train"], 6, seed=0)
    info = contrastive_tune(body, [t for t, _ in train], [y for _, y in train], cfg, seed=0)
    after = _pair_margin(body, data["test"])
    assert info["pairs"] == 96 and info["steps"] == 6
    assert info["loss_last"] < info["loss_first"]
    assert after > before + 0.04, (before, after)  # measured: 0.100 -> 0.180
    # the next run starts again from the pretrained weights
    assert abs(_pair_margin(Body("minilm", cfg.max_len, cfg.precision), data["test"]) - before) < 1e-5


def test_plain_fine_tuning_trains_the_body_and_a_head_and_predicts_every_test_row():
    data = load_data("vader-domains", sample=True)
    cfg = SetFitConfig(plain_epochs=2, plain_max_steps=4, plain_batch=8, precision="fp32")
    model = Body("minilm", cfg.max_len, cfg.precision).model  # the process's one copy, reset per run
    pristine = {k: v.clone() for k, v in model.state_dict().items()}
    pred, info = plain_fine_tune(per_class_sample(data["train"], 4, seed=0), data["test"], cfg, seed=0)
    assert info["steps"] == 4 and len(pred) == len(data["test"]) and set(pred) <= {0, 1, 2, 3}
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, pristine[k])]
    assert any(".0." in k for k in changed)  # the first block's weights moved: the body is trained


def test_summary_gain_and_curve(tmp_path):
    runs = [
        {"method": m, "per_class": k, "seed": s, "macro_f1": f, "accuracy": f, "cpu_seconds": 1.0}
        for m, base in (("setfit", 0.8), ("plain", 0.5))
        for k in (8, 16)
        for s, f in enumerate((base, base + 0.1))
    ]
    summary = summarise(runs)
    assert summary["setfit"]["8"]["macro_f1"] == {"mean": 0.85, "std": round(0.1 / 2**0.5, 4), "n": 2}
    assert gain(summary, 8) == 30.0 and gain(summary, 64) is None
    result = {"summary": summary, "test": 10, "full": {"macro_f1": 0.9, "accuracy": 0.9, "train": 100}}
    png = plot(result, tmp_path / "curve.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plan_runs_seed_by_seed_with_the_package_where_asked_and_full_after_the_first_seed():
    plan = plan_runs([8, 64], 3, ["setfit", "package"], package_shots=[8], package_seeds=2, full=True)
    assert plan[:4] == [("setfit", 8, 0), ("package", 8, 0), ("setfit", 64, 0), ("full", None, 0)]
    assert [s for _, _, s in plan] == [0, 0, 0, 0, 1, 1, 1, 2, 2]
    assert ("package", 8, 2) not in plan and ("package", 64, 0) not in plan


def test_a_spent_time_budget_starts_no_run_and_lists_what_was_not_run():
    data = load_data("vader-domains", sample=True)
    r = benchmark(data, [2], 1, ["frozen"], SetFitConfig(), full=False, minutes=1e-9)
    assert r["runs"] == [] and r["not_run"] == [{"method": "frozen", "per_class": 2, "seed": 0}]


def test_cli_runs_every_method_and_writes_json_and_plot(tmp_path, capsys):
    out, png = tmp_path / "r.json", tmp_path / "r.png"
    argv = ["setfit", "--data", "vader-domains", "--sample", "--per-class", "2", "--seeds", "1"]
    argv += ["--methods", "setfit,plain,frozen", "--iterations", "1", "--max-pairs", "8", "--test-per-class", "0"]
    argv += ["--plain-steps", "2", "--full-limit", "16", "--json", str(out), "--plot", str(png), "--quiet"]
    argv += ["--threads", "1"]
    assert main(argv) == 0
    r = json.loads(out.read_text())
    assert r["labels"] == ["amazon", "movies", "nyt", "tweets"] and r["test"] == 24  # the sample's 6 per label
    assert {(x["method"], x["per_class"]) for x in r["runs"]} == {("setfit", 2), ("plain", 2), ("frozen", 2)}
    assert r["full"]["train"] == 16 and r["full"]["method"] == "full"
    assert next(x for x in r["runs"] if x["method"] == "setfit")["pairs"] == 8
    assert next(x for x in r["runs"] if x["method"] == "plain")["steps"] == 2
    assert set(r["summary"]) == {"setfit", "plain", "frozen"} and "2" in r["gain_over_plain_points"]
    assert r["command"].startswith("tcat setfit --data vader-domains --sample --per-class 2")
    assert r["machine"]["isa"] is not None and r["cpu_seconds"] > 0
    assert png.is_file() and r["figure"] == str(png)


def test_cli_refuses_more_examples_per_class_than_the_data_has_before_training(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["setfit", "--data", "vader-domains", "--sample", "--per-class", "8", "13", "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert "training split: label amazon has 12 example(s), fewer than the 13 per class asked" in err
    assert not out.exists()


def test_run_method_rejects_an_unknown_method():
    with pytest.raises(TcatError, match="unknown method 'prompting'"):
        run_method("prompting", ROWS, ROWS, SetFitConfig(), 0)


@pytest.mark.slow
def test_pair_counts_match_the_setfit_package_sampler():
    sampler = pytest.importorskip("setfit.sampler")
    labels = [y for _, y in ROWS]
    theirs = list(sampler.ContrastiveDataset([t for t, _ in ROWS], labels, False, num_iterations=3))
    ours = make_pairs(labels, 3, 10**6, 0)
    assert len(ours) == len(theirs)
    assert sum(t for _, _, t in ours) == sum(p["label"] for p in theirs)


@pytest.mark.slow
def test_setfit_package_runs_offline_on_the_local_body_and_learns_the_sample():
    pytest.importorskip("setfit")
    data = load_data("vader-domains", sample=True)
    train = per_class_sample(data["train"], 8, seed=0)
    cfg = SetFitConfig(iterations=2, max_pairs=64)
    theirs = run_method("package", train, data["test"], cfg, 0)
    ours = run_method("setfit", train, data["test"], cfg, 0)
    assert theirs["accuracy"] > 0.5 and ours["accuracy"] > 0.5  # chance is 0.25 on 4 balanced labels


def _report(results):

    report_setfit = script_module("report_setfit")
    report_setfit.RESULTS = results
    return report_setfit


def test_report_pairs_seeds_reads_the_numbers_and_states_the_target(tmp_path):
    runs = [
        {"method": m, "per_class": 8, "seed": s, "macro_f1": f, "accuracy": f, "cpu_seconds": 2.0}
        for m, fs in (("setfit", (0.80, 0.70)), ("plain", (0.60, 0.65)))
        for s, f in enumerate(fs)
    ]
    machine = {"cpu": "CPU X", "isa": ["avx512_bf16"], "torch": "2.x"}
    result = {"command": "tcat setfit --seeds 2", "data": "vader-domains", "train_available": 100, "test": 40}
    result |= {"runs": runs, "summary": summarise(runs), "full": None, "machine": machine, "cpu_seconds": 9.0}
    result |= {"wall_seconds": 30.0, "not_run": [{"method": "plain", "per_class": 8, "seed": 2}]}
    (tmp_path / "setfit.json").write_text(json.dumps(result))
    report = _report(tmp_path)
    assert report.paired_gain(runs, 8) == {
        "mean": pytest.approx(12.5),
        "min": pytest.approx(5.0),
        "max": pytest.approx(20.0),
        "wins": 2,
    }
    lines: list[str] = []
    report.section(lines)
    text = "\n".join(lines)
    assert "| 0.750 ± 0.071 (2) |" in text and "| 0.625 ± 0.035 (2) |" in text
    assert "8/class +12.5 points (seeds +5.0 to +20.0; SetFit ahead on 2 of 2)" in text
    assert "**met**" in text and "avx512_bf16" in text and "`tcat setfit --seeds 2`" in text
    assert "plain 8/class seed 2" in text
    runs[0]["macro_f1"] = 0.62  # gain (2 + 5) / 2 = 3.5 points: the target is missed
    (tmp_path / "setfit.json").write_text(json.dumps(result | {"summary": summarise(runs)}))
    lines = []
    report.section(lines)
    assert "**not met** (+3.5 points)" in "\n".join(lines)
