"""The speed harness itself runs end to end (a tiny configuration, one round) and its report renders:
a broken peer, result key or report section fails here, not an hour into `make bench`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_decoder_harness_runs_every_peer_and_mode_and_the_report_renders(tmp_path):
    pytest.importorskip("transformers")
    env = {**os.environ, "TCAT_BENCH_RESULTS": str(tmp_path), "OMP_NUM_THREADS": "1"}
    res = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_gpt.py"),
            "--config",
            "tiny",
            "--rounds",
            "1",
            "--modes",
            "fp32",
            "--batches",
            "1",
            "--new-tokens",
            "4",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    r = json.loads((tmp_path / "gpt_tiny.json").read_text())
    assert {"tcat", "nanogpt", "hf"} <= set(r["train_tokens_per_s"]["fp32"])
    assert {"tcat", "tcat-int8", "tcat-compiled", "hf"} <= set(r["generate_tokens_per_s"]["batch 1"])
    assert all(v > 0 for v in r["generate_tokens_per_s"]["batch 1"].values())
    assert r["peak_gflops"]["fp32"] > 0 and r["peak_rss_mb"] > 0

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import report
    finally:
        sys.path.pop(0)
    (tmp_path / "gpt_small.json").write_text(json.dumps(r))  # rendered as the 6.9M section
    report.RESULTS = tmp_path
    lines = []
    report.decoder_speed(lines)
    report.targets(lines)
    text = "\n".join(lines)
    assert "| training tokens/s, fp32 |" in text and "tcat-compiled" in text
    assert "batch-1 generation 6.9M: tcat >= 2.0x HF generate" in text
