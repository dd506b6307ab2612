"""The scaling-laws experiment: its fits recover known laws from synthetic losses, the grid is costed
and refused before it starts, finished runs are skipped on a rerun, the tiny grid runs end to end, and
catalog models are placed by tokens per parameter."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from transformer_catalog.errors import TcatError
from transformer_catalog.experiments import scaling_fit as sf
from transformer_catalog.experiments import scaling_laws as sl
from transformer_catalog.experiments import scaling_plots as sp

LAW = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}  # Chinchilla's fitted law


def synthetic_runs(budgets, sizes_per_budget=7, noise=0.002, seed=0):
    """Runs on IsoFLOP curves around the known law's optimum, losses from LAW with log-normal noise."""
    rng = np.random.default_rng(seed)
    opt = sf.law_optimum(LAW)
    runs = []
    for c in budgets:
        n_opt = opt["G"] * (c / 6) ** opt["a"]
        for n in np.geomspace(n_opt / 8, n_opt * 8, sizes_per_budget):
            d = c / (6 * n)
            loss = float(sf.predict(LAW, n, d)) * math.exp(rng.normal(0, noise))
            runs.append({"budget": c, "n": float(n), "d": float(d), "loss": loss})
    return runs


def test_parabola_minimum_of_isoflop_data():
    log_n = np.log(np.geomspace(1e4, 1e7, 9))
    loss = 2.0 + 0.1 * (log_n - math.log(3e5)) ** 2
    assert sf.parabola_min(log_n, loss) == pytest.approx(3e5, rel=1e-6)
    assert sf.parabola_min(log_n, 2.0 - 0.1 * (log_n - math.log(3e5)) ** 2) is None  # no minimum


def test_isoflop_leaves_out_a_minimum_outside_the_sizes_tried():
    n = np.geomspace(1e4, 1e6, 5)
    runs = [{"budget": 1e12, "n": v, "d": 1.0, "loss": 2.0 + 0.1 * math.log(v / 1e3) ** 2} for v in n]
    iso = sf.isoflop(runs)  # the parabola's minimum is at 1e3, below the smallest size
    assert iso["optima"] == [] and iso["no_interior_minimum"] == [1e12]


def test_power_law_fit():
    x = np.geomspace(1e10, 1e14, 5)
    e, k = sf.power_law(x, 3.0 * x**0.42)
    assert e == pytest.approx(0.42, abs=1e-9) and k == pytest.approx(3.0, rel=1e-6)


def test_isoflop_recovers_compute_optimal_exponents():
    runs = synthetic_runs([1e18, 1e19, 1e20, 1e21])
    iso = sf.isoflop(runs)
    truth = sf.law_optimum(LAW)  # a = beta / (alpha + beta) = 0.452
    assert iso["a"] == pytest.approx(truth["a"], abs=0.03)
    assert iso["b"] == pytest.approx(truth["b"], abs=0.03)
    assert len(iso["optima"]) == 4


def test_parametric_fit_recovers_known_law():
    runs = synthetic_runs([1e17, 1e18, 1e19, 1e20, 1e21], noise=0.001)
    law = sf.fit_law([r["n"] for r in runs], [r["d"] for r in runs], [r["loss"] for r in runs], sf.start_grid(2))
    assert law["alpha"] == pytest.approx(0.34, abs=0.04)
    assert law["beta"] == pytest.approx(0.28, abs=0.04)
    assert law["E"] == pytest.approx(1.69, abs=0.1)
    assert law["r2_log"] > 0.99
    assert sf.law_optimum(law)["a"] == pytest.approx(sf.law_optimum(LAW)["a"], abs=0.05)


def test_bootstrap_intervals_cover_the_truth_and_shuffles_fit_worse():
    runs = synthetic_runs([1e18, 1e19, 1e20], sizes_per_budget=5, noise=0.003)
    law = sf.fit_law([r["n"] for r in runs], [r["d"] for r in runs], [r["loss"] for r in runs], sf.start_grid(2))
    boot = sf.bootstrap(runs, 12, seed=0, law=law)
    assert boot["samples"] == 12
    lo, hi = boot["alpha"]  # 12 resamplings: an interval around the truth, not a calibrated one
    assert 0 < lo <= hi and lo - 0.03 <= 0.34 <= hi + 0.03 and hi - lo < 0.2
    shuffled = sf.shuffled_r2(runs, 8, seed=0)
    assert len(shuffled) == 8 and max(shuffled) < law["r2_log"]


def test_interval_ignores_failed_fits():
    assert sf.interval([None, 1.0, 2.0, 3.0, float("nan")], 1.0) == [1.0, 3.0]
    assert sf.interval([None]) is None


@pytest.fixture(scope="module")
def task():
    import torch

    from transformer_catalog.train.tasks import make_objective_task

    torch.set_num_threads(1)
    cfg = sl.Config.tiny()
    return make_objective_task("clm", cfg.data, cfg.vocab, cfg.max_len)


def test_plan_counts_steps_from_compute(task):
    cfg = sl.Config.tiny()
    runs = sl.plan(cfg, task)
    assert len(runs) == sum(len(sizes) for _, sizes in cfg.grid)
    per_step, _ = sl.tokens_per_step(task, cfg)
    for r in runs:  # C = 6 N D, D = steps x tokens per step
        assert 6 * r["n"] * r["steps"] * per_step == pytest.approx(r["budget"], rel=0.1)
    small, big = (next(r for r in runs if r["budget"] == 3e9 and r["size"] == s) for s in ("L1-d16", "L2-d32"))
    assert small["steps"] > big["steps"] and small["n"] < big["n"]


def test_budget_estimate_refuses_a_grid_over_the_limit(task, tmp_path):
    cfg = dataclasses.replace(sl.Config.tiny(), max_cpu_minutes=0.001)
    with pytest.raises(TcatError, match=r"need about .* CPU minutes .* over max_cpu_minutes=0.001"):
        sl.run_grid(cfg, tmp_path, task)
    assert not list(tmp_path.glob("run-*.json"))  # refused before anything was trained
    assert sl.estimate(sl.Config.tiny(), task, sl.plan(sl.Config.tiny(), task)) > 0


def test_budget_too_small_for_a_size_is_refused(task):
    cfg = dataclasses.replace(sl.Config.tiny(), grid=((1e7, (0, 1, 2)),))
    with pytest.raises(TcatError, match=r"budget C=1.0e\+07 is too small for size L1-d16 .* fewer than min_steps"):
        sl.plan(cfg, task)


def test_corpus_too_small_for_a_run_is_refused(task):
    cfg = dataclasses.replace(sl.Config.tiny(), max_epochs=0.5)
    with pytest.raises(TcatError, match=r"corpus bible-sample has \d+ training tokens; .* epochs, over max_epochs"):
        sl.plan(cfg, task)


def test_unknown_size_index_is_refused(task):
    cfg = dataclasses.replace(sl.Config.tiny(), grid=((1e9, (0, 7)),))
    with pytest.raises(TcatError, match="size index 7"):
        sl.plan(cfg, task)


def test_rerun_skips_finished_runs_and_refuses_another_setting(task, tmp_path, monkeypatch):
    cfg = dataclasses.replace(sl.Config.tiny(), grid=((1e9, (0, 1, 2)),))
    runs, book = sl.run_grid(cfg, tmp_path, task)
    assert book["trained"] == 3 and len(list(tmp_path.glob("run-*.json"))) == 3
    trained = []
    real = sl.train_run
    monkeypatch.setattr(sl, "train_run", lambda c, t, r: trained.append(r["size"]) or real(c, t, r))
    again, book = sl.run_grid(cfg, tmp_path, task)
    assert trained == [] and book["skipped"] == 3 and [r["loss"] for r in again] == [r["loss"] for r in runs]
    assert book["estimated_cpu_seconds"] == 0 and book["grid_estimated_cpu_seconds"] > 0  # costed, not retrained
    sl.run_file(tmp_path, 1e9, "L1-d32").unlink()  # a grid stopped before this run: only it is trained
    sl.run_grid(cfg, tmp_path, task)
    assert trained == ["L1-d32"]
    with pytest.raises(TcatError, match="a run of another setting"):
        sl.run_grid(dataclasses.replace(cfg, lr=1e-3), tmp_path, task)


def test_tiny_grid_end_to_end(tmp_path):
    from transformer_catalog.experiments.render import load_results, render_markdown

    results = sl.run(sl.Config.tiny(), tmp_path)
    assert results["name"] == "scaling-laws" and results["setting"] == "tiny"
    assert len(list(tmp_path.glob("run-*.json"))) == 6
    for figure in results["figures"]:
        assert (tmp_path / figure).read_bytes()[:4] == b"\x89PNG"
    assert {"isoflop.png", "optimal.png", "catalog.png"} <= set(results["figures"])
    m = results["metrics"]
    assert m["runs"] == 6 and m["law_r2_log"] is not None and m["chinchilla_tokens_per_param"] == 20.0
    fits = json.loads((tmp_path / "fits.json").read_text())
    assert len(fits["runs"]) == 6 and len(fits["shuffled_r2"]) == 10
    assert "scaling-laws" in render_markdown(load_results(tmp_path))


def test_catalog_point_uses_active_params_and_skips_non_llms():
    moe = {
        "name": "M",
        "architecture": "decoder",
        "pretraining_tasks": ["causal LM"],
        "training_tokens": {"tokens": 14_800_000_000_000},
        "sizes": [{"variant": "671B", "params": 671_000_000_000, "active_params": 37_000_000_000}],
    }
    p = sp.entry_point(moe)
    assert p["n"] == 37_000_000_000 and p["moe"] and p["ratio"] == pytest.approx(400.0)
    assert sp.entry_point({**moe, "architecture": "encoder", "pretraining_tasks": ["MLM"]}) is None
    assert sp.entry_point({**moe, "training_tokens": {"tokens": None, "note": "undisclosed"}}) is None
    dense = {**moe, "sizes": [{"variant": "7B", "params": 7e9}, {"variant": "70B", "params": 7e10}]}
    assert sp.entry_point(dense)["variant"] == "70B"  # the largest, unless the compute record names one
    assert sp.entry_point({**dense, "training_compute": {"variant": "7B"}})["variant"] == "7B"


def test_rank_splits_at_twenty_tokens_per_param():
    points = [{"name": str(r), "ratio": r, "n": 1, "d": r, "moe": False} for r in (1, 5, 19, 21, 300, 2000)]
    ranked = sp.rank(points, top=2)
    assert [p["ratio"] for p in ranked["over"]] == [2000, 300]
    assert [p["ratio"] for p in ranked["under"]] == [1, 5]


def test_shipped_catalog_has_points():
    catalog = sp.catalog_points()
    assert catalog["count"] >= 10
    for p in catalog["points"]:
        assert p["ratio"] == pytest.approx(p["d"] / p["n"])
