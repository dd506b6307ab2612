"""A causal LM trained from the CLI is evaluated by held-out perplexity, samples continuations, and
streams generated tokens."""

import json
import math
import os
import subprocess
import sys


def _unigram_perplexity(run):
    from collections import Counter
    from pathlib import Path

    from transformer_catalog.data.tokenizer import Tokenizer
    from transformer_catalog.train.tasks import make_objective_task

    folder = next(p.parent for p in Path(run).rglob("tokenizer.json"))
    tok = Tokenizer.load(folder / "tokenizer.json")
    task = make_objective_task("clm", "bible-sample", vocab_size=tok.vocab_size, max_len=64, tokenizer=tok)
    counts = Counter(t for piece in task.train for s in piece for t in s[1:])
    total = sum(counts.values())
    targets = [t for piece in task.valid for s in piece for t in s[1:]]
    nll = -sum(math.log((counts[t] + 1) / (total + tok.vocab_size)) for t in targets) / len(targets)
    return math.exp(nll)


def test_clm_run_reports_perplexity_and_samples(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "transformer_catalog.cli"]
    run = str(tmp_path / "lm")
    res = subprocess.run(
        [
            *cli,
            "train",
            "--task",
            "clm",
            "--data",
            "bible-sample",
            "--model",
            "GPT-2",
            "--scale",
            "tiny",
            "--vocab",
            "500",
            "--max-len",
            "64",
            "--out",
            run,
            "--steps",
            "100",
            "--max-tokens",
            "1024",
            "--optimizer",
            "adamw",
            "--schedule",
            "cosine",
            "--lr",
            "3e-3",
            "--warmup",
            "3",
            "--eval-every",
            "0",
            "--quiet",
            "--threads",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    res = subprocess.run(
        [*cli, "evaluate", run, "--prompt", "And God said", "--json", str(tmp_path / "lm.json"), "--threads", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads((tmp_path / "lm.json").read_text())
    assert abs(out["perplexity"] - math.exp(out["valid_loss"])) < 0.05
    # The bound: the best model that ignores every earlier token (the training split's token
    # frequencies, add-one), scored on the same held-out next tokens, not the vocabulary size, which a
    # model that learned nothing reaches. Measured at 100 steps: model 103, unigram 118.5 (at 30 steps
    # the model, 129, did not beat it). Using context beyond the previous token is shown by
    # test_objectives.py::test_model_beats_a_control_that_cannot_learn_the_task; this tiny run is
    # not long enough for that (a copy with attention zeroed reaches 48 here, a bigram table 32).
    unigram = _unigram_perplexity(run)
    assert out["perplexity"] < unigram, f"perplexity {out['perplexity']:.1f} vs unigram {unigram:.1f}"
    assert out["samples"][0]["prompt"] == "And God said" and out["samples"][0]["continuation"]
    res = subprocess.run(
        [*cli, "generate", run, "In the beginning", "--max-new-tokens", "8", "--threads", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert res.returncode == 0 and res.stdout.startswith("In the beginning"), res.stderr
    res = subprocess.run(
        [*cli, "evaluate", run, "--int8", "--json", str(tmp_path / "int8.json"), "--threads", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    q = json.loads((tmp_path / "int8.json").read_text())
    assert q["weights"] == "int8" and abs(q["valid_loss"] - out["valid_loss"]) < 0.05 * out["valid_loss"]
    res = subprocess.run(
        [*cli, "generate", run, "In the beginning", "--int8", "--max-new-tokens", "8", "--threads", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert res.returncode == 0 and res.stdout.startswith("In the beginning"), res.stderr
