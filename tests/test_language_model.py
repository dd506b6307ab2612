"""A causal LM trained from the CLI is evaluated by held-out perplexity, samples continuations, and
streams generated tokens."""

import json
import math
import os
import subprocess
import sys


def test_clm_run_reports_perplexity_and_samples(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "transformer_catalog.cli"]
    run = str(tmp_path / "lm")
    res = subprocess.run([*cli, "train", "--task", "clm", "--data", "bible-sample", "--model", "GPT-2", "--scale", "tiny",
                          "--vocab", "500", "--max-len", "64", "--out", run, "--steps", "30", "--max-tokens", "1024",
                          "--optimizer", "adamw", "--schedule", "cosine", "--lr", "3e-3", "--warmup", "3",
                          "--eval-every", "0", "--quiet", "--threads", "1"], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([*cli, "evaluate", run, "--prompt", "And God said", "--json", str(tmp_path / "lm.json"), "--threads", "1"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    out = json.loads((tmp_path / "lm.json").read_text())
    assert abs(out["perplexity"] - math.exp(out["valid_loss"])) < 0.05 and out["perplexity"] < 500  # vocabulary of 500
    assert out["samples"][0]["prompt"] == "And God said" and out["samples"][0]["continuation"]
    res = subprocess.run([*cli, "generate", run, "In the beginning", "--max-new-tokens", "8", "--threads", "1"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0 and res.stdout.startswith("In the beginning"), res.stderr
    res = subprocess.run([*cli, "evaluate", run, "--int8", "--json", str(tmp_path / "int8.json"), "--threads", "1"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    q = json.loads((tmp_path / "int8.json").read_text())
    assert q["weights"] == "int8" and abs(q["valid_loss"] - out["valid_loss"]) < 0.05 * out["valid_loss"]
    res = subprocess.run([*cli, "generate", run, "In the beginning", "--int8", "--max-new-tokens", "8", "--threads", "1"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0 and res.stdout.startswith("In the beginning"), res.stderr
