"""Every registered experiment runs at its tiny setting: its claim holds, its control fails, and
its results render for BENCHMARKS.md and the site."""

import json
import random
from pathlib import Path

import pytest
import torch

from transformer_catalog.errors import TcatError
from transformer_catalog.experiments import MODULES, get, registry
from transformer_catalog.experiments.render import load_results, render_html, render_markdown, render_summary

NAMES = sorted(registry())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each experiment run once, tiny, single-threaded (what the tests below inspect)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("experiments")
    try:
        return {name: (get(name).run(root / name, tiny=True), root / name) for name in NAMES}
    finally:
        torch.set_num_threads(threads)


def test_registry_lists_every_module_with_its_shape():
    experiments = registry()
    assert len(experiments) == len(MODULES) >= 2
    for name, ex in experiments.items():
        assert ex.name == name and ex.claim.endswith(".") and ex.control.endswith(".")
        assert ex.config().setting == "full" and ex.config(tiny=True).setting == "tiny"
        assert ex.config(tiny=True) != ex.config()
    with pytest.raises(TcatError, match="unknown experiment 'nope'; known: copy, lm-context, .*lineage-perceptron"):
        get("nope")


def test_lineage_is_read_from_the_module():
    experiments = registry()
    assert experiments["copy"].lineage is None and experiments["lm-context"].lineage is None
    assert experiments["lineage-hopfield"].lineage == experiments["lineage-elman"].lineage == "RNN"
    for ex in experiments.values():
        assert ex.lineage == getattr(ex.module, "LINEAGE", None)


def test_lineage_rows_meet_their_targets_at_the_tiny_setting(runs):
    m = {name: runs[name][0]["metrics"] for name in runs if name.startswith("lineage-")}
    p = m["lineage-perceptron"]
    assert p["iris_accuracy_worst_seed"] == 1.0 and p["iris_seeds_converged"] == p["seeds"]
    assert p["xor_best_accuracy_any_seed_any_pass"] <= 0.75 and p["xor_seeds_converged"] == 0
    mlp = m["lineage-mlp"]
    assert mlp["xor_seeds_solved"] >= 9 and mlp["encoder_seeds_with_8_distinct_codes"] >= 9
    assert mlp["linear_hidden_best_xor_accuracy"] <= 0.75
    h = m["lineage-hopfield"]
    assert h["recall_at_0.05N"] >= h["recall_at_0.10N"] >= 0.95 > 0.5 >= h["recall_at_0.20N"]
    e = m["lineage-elman"]
    assert e["surprisal_word_initial_bits"] > e["surprisal_word_internal_bits"]
    assert e["gap_bits"] > 2 * e["unigram_gap_bits"] and e["held_out_bits_per_letter"] < e["unigram_bits_per_letter"]
    lstm = m["lineage-lstm"]
    assert lstm["lstm_mse_T20"] < 0.01 and lstm["tanh_rnn_mse_T20"] > 0.1
    g = m["lineage-gcn"]
    assert g["gcn_accuracy_mean"] >= 0.9 and g["mlp_accuracy_mean"] <= 0.65
    s = m["lineage-seq2seq"]
    assert s["transformer_tokens_per_cpu_s"] > s["lstm-attention_tokens_per_cpu_s"]
    assert s["transformer_chrf"] >= s["lstm-attention_chrf"] > s["lstm-no-attention_chrf"]
    assert s["transformer_tokens"] == s["lstm-attention_tokens"]  # the same batches, step for step


def shows_claim(name: str) -> bool:
    """Whether the tiny setting can show the claim: a module that cannot says why in TINY_SHOWS_CLAIM_NOT."""
    return not get(name).module.__dict__.get("TINY_SHOWS_CLAIM_NOT")


@pytest.mark.parametrize("name", NAMES)
def test_claim_holds_and_control_fails_at_the_tiny_setting(runs, name):
    results, out = runs[name]
    if shows_claim(name):
        assert results["claim_holds"], results["metrics"]
        assert results["control_fails"], results["metrics"]
    else:  # a claim only the full setting can show (its own tests check the tiny run's parts): the verdict is stated
        assert isinstance(results["claim_holds"], bool) and isinstance(results["control_fails"], bool)
        assert len(get(name).module.TINY_SHOWS_CLAIM_NOT) > 20
    assert json.loads((out / "results.json").read_text()) == results == load_results(out)
    assert (out / ".tcat").is_file()  # an output folder tcat made (files.output_dir)
    for figure in results["figures"]:
        assert (out / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert results["command"] == f"tcat experiments run {name} --tiny" and results["setting"] == "tiny"
    assert results["config"] == json.loads(json.dumps(vars(get(name).config(tiny=True))))
    assert results["cpu_seconds"] > 0 and results["wall_seconds"] > 0
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith(("flags", "Features")):
            flags |= set(line.partition(":")[2].split())
    assert set(results["machine"]["isa"]) <= flags and results["machine"]["threads"] == 1
    assert ("avx512_bf16" in flags) == ("avx512_bf16" in results["machine"]["isa"])


def test_copy_numbers_are_the_claim_and_a_failing_control(runs):
    m = runs["copy"][0]["metrics"]
    assert m["exact_match"] >= 0.95 and m["symbol_accuracy"] >= 0.98
    assert m["control_exact_match"] <= 0.05
    # without the source, per-symbol accuracy is chance: 1 / n_symbols, within sampling noise
    assert abs(m["control_symbol_accuracy"] - m["chance_symbol_accuracy"]) < 0.05
    assert m["held_out_sequences"] == 200
    assert m["chance_exact_match"] == pytest.approx(8**-6, rel=1e-5)  # small numbers keep their digits


def test_lm_numbers_are_the_claim_and_a_failing_control(runs):
    m = runs["lm-context"][0]["metrics"]
    assert m["perplexity"] <= 0.75 * m["unigram_perplexity"] < m["control_perplexity"]
    assert m["ratio_to_unigram"] == pytest.approx(m["perplexity"] / m["unigram_perplexity"], rel=1e-4)
    assert m["perplexity"] < m["vocab_size"] and m["held_out_tokens"] > 1000


def test_unigram_perplexity_is_frequency_based():
    from transformer_catalog.experiments.lm_context import unigram_perplexity

    assert unigram_perplexity([1, 2], [3, 3], vocab_size=4) == pytest.approx(6.0)  # (0 + 1) / (2 + 4)
    assert unigram_perplexity([1] * 98 + [2, 2], [1], 2) == pytest.approx(102 / 99)


def test_hidden_input_control_hides_every_real_token():
    from transformer_catalog.experiments.controls import HideInput
    from transformer_catalog.train.tasks import make_copy_task

    task = make_copy_task(n_symbols=5, length=4, n_train=6)
    hidden = HideInput(task.objective, "src", token=3, pad=task.pad_id)
    plain = task.objective.batch(task.train, random.Random(0))
    batch = hidden.batch(task.train, random.Random(0))
    assert (batch["src"] == 3).all() and not (plain["src"] == 3).all()
    assert torch.equal(batch["labels"], plain["labels"]) and torch.equal(batch["tgt_in"], plain["tgt_in"])
    assert hidden.smooths and hidden.batches(task.train, 64, 0, 0) == task.objective.batches(task.train, 64, 0, 0)


def test_markdown_and_html_render_and_escape(runs):
    results = runs["copy"][0]
    md = render_markdown(results, figure_dir="experiments/copy")
    assert md.startswith("### copy: demonstrated") and results["claim"] in md
    assert "![copy](experiments/copy/copy.png)" in md and "| exact_match | 1 |" in md
    assert "tcat experiments run copy --tiny" in md and "CPU seconds" in md
    demonstrated = [r for n, (r, _) in runs.items() if r["claim_holds"] and r["control_fails"]]
    assert {r["name"] for r in demonstrated} >= {n for n in runs if shows_claim(n)}
    assert render_summary([r for r, _ in runs.values()]).count("| demonstrated |") == len(demonstrated)

    hostile = {
        **results,
        "claim": "<script>alert(1)</script> | x",
        "control_fails": False,
        "figures": ["copy.png", "../../etc/passwd.png", "javascript:x.png", "a/b.png"],
    }
    page = render_html(hostile)
    assert page["claim"] == "&lt;script&gt;alert(1)&lt;/script&gt; | x"
    assert page["figures"] == ["copy.png"] and not page["demonstrated"]
    assert page["verdict"] == "not demonstrated: the control succeeded too"
    md = render_markdown(hostile)
    assert "<script>" not in md and "\\|" in md and "etc/passwd" not in md and "javascript" not in md


def test_results_loading_and_output_folder_errors_are_one_line(tmp_path):
    with pytest.raises(TcatError, match="results.json: no results"):
        load_results(tmp_path)
    (tmp_path / "results.json").write_text('{"name": "x"')
    with pytest.raises(TcatError, match="results.json: not readable results"):
        load_results(tmp_path)
    (tmp_path / "results.json").write_text('{"name": "x"}')
    with pytest.raises(TcatError, match=r"results.json: not an experiment's results \(missing claim, control"):
        load_results(tmp_path)
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "thesis.tex").write_text("mine")
    with pytest.raises(TcatError, match="non-empty folder tcat did not create"):
        get("copy").run(mine, tiny=True)
    assert sorted(p.name for p in mine.iterdir()) == ["thesis.tex"]
