"""The speed harness itself runs end to end (a tiny configuration, one round) and its report renders:
a broken peer, result key or report section fails here, not an hour into `make bench`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from repo_scripts import script_module

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
            "fp32,bf16",
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
    # tcat's own bf16 path (master weights) runs beside every peer's autocast, with an MFU of the bf16 peak
    assert {"tcat", "tcat-master", "nanogpt", "hf"} <= set(r["train_tokens_per_s"]["bf16"])
    assert r["mfu"]["bf16"]["tcat-master"] > 0 and r["peak_gflops"]["bf16"] > 0
    assert {"tcat", "tcat-int8", "tcat-compiled", "hf"} <= set(r["generate_tokens_per_s"]["batch 1"])
    assert all(v > 0 for v in r["generate_tokens_per_s"]["batch 1"].values())
    assert r["peak_gflops"]["fp32"] > 0 and r["peak_rss_mb"] > 0

    report = script_module("report")
    (tmp_path / "gpt_small.json").write_text(json.dumps(r))  # rendered as the 6.9M section
    report.RESULTS = tmp_path
    lines = []
    report.decoder_speed(lines)
    report.targets(lines)
    text = "\n".join(lines)
    assert "| training tokens/s, fp32 |" in text and "tcat-compiled" in text
    assert "batch-1 generation 6.9M: tcat >= 2.0x HF generate" in text

    report_levers = _report_levers(tmp_path)
    (tmp_path / "gpt_small_bf16.json").write_text(json.dumps(r))
    lines = []
    report_levers.section(lines)
    text = "\n".join(lines)
    assert "| tokens/s, bf16 (tcat-master) / bf16 autocast |" in text and "ISA: " in text
    assert "the best peer's autocast" in text and ("missed" in text or "met" in text)


@pytest.mark.slow  # ~20 s alone, over a minute on a loaded machine (imports every peer, measures the peaks)
def test_train_lever_harness_runs_and_records_rounds(tmp_path):
    env = {**os.environ, "TCAT_BENCH_RESULTS": str(tmp_path), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_train_levers.py"), "--config", "tiny", "--rounds", "2"]
    res = subprocess.run(
        [*cmd, "--steps", "1", "--only", "headce,bf16,bf16loss"], capture_output=True, text=True, env=env, timeout=600
    )
    assert res.returncode == 0, res.stderr[-2000:]
    r = json.loads((tmp_path / "train_levers_tiny.json").read_text())
    assert len(r["results"]) == 4 and r["clock"] == "cpu" and r["machine"]["isa"] is not None
    for row in r["results"].values():
        assert len(row["rounds"][row["with"]]) == 2 and len(row["round_ratios"]) == 2
        assert row["ratio"] == pytest.approx(row["median"][row["with"]] / row["median"][row["without"]], rel=0.01)
    (tmp_path / "train_levers_small.json").write_text(json.dumps(r))
    lines = []
    _report_levers(tmp_path).section(lines)
    rows = [line for line in lines if line.startswith("| bf16") or line.startswith("| fp32")]
    assert len(rows) == 4 and all("x |" in row for row in rows)
    assert any("in the library: `tcat train --bf16`" in row for row in rows)


def _report_levers(results):
    report_levers = script_module("report_levers")
    report_levers.RESULTS = results
    return report_levers


def test_fused_head_cross_entropy_equals_head_then_cross_entropy():
    """The lever's fused loss computes gradients in forward: value and both gradients must equal the
    unfused head + F.cross_entropy, over several chunks with a ragged last one."""
    import torch
    import torch.nn.functional as F

    FusedHeadCrossEntropy = script_module("bench_train_levers").FusedHeadCrossEntropy
    torch.manual_seed(0)
    h = torch.randn(37, 16, requires_grad=True)
    w = torch.randn(50, 16, requires_grad=True)
    t = torch.randint(0, 50, (37,))
    fused = FusedHeadCrossEntropy.apply(h, w, t, 8)
    (3 * fused).backward()
    gh, gw = h.grad.clone(), w.grad.clone()
    h.grad = w.grad = None
    ref = F.cross_entropy(h @ w.T, t)
    (3 * ref).backward()
    assert fused.item() == pytest.approx(ref.item(), rel=1e-5)
    assert torch.allclose(gh, h.grad, atol=1e-5) and torch.allclose(gw, w.grad, atol=1e-5)


@pytest.mark.slow  # builds every peer to take tcat's model: ~10 s alone, longer on a loaded machine
def test_step_profile_of_the_bf16_path_renders():
    profile_step = script_module("profile_step", "scripts")
    r = profile_step.profile("bf16-master", "tiny", 1, 5)
    assert sum(r["groups"].values()) == pytest.approx(1.0, abs=0.01) and "matmul" in r["groups"]
    assert profile_step.group("aten::_foreach_copy_") == "casts"  # the compute copy's refresh is a cast
    lines = []
    _report_levers(ROOT).profile(
        lines, {"config": "tiny", "machine": _fake_machine(), "command": "x", "bf16-master": r}
    )
    assert any(line.startswith("| matmul |") for line in lines)


def _fake_machine():
    return {"cpu": "cpu", "isa": ["avx2"], "torch": "2", "threads": 1}


def test_every_report_section_is_wired_into_the_report():
    """A benchmarks/report_<area>.py that report.py does not call would never reach BENCHMARKS.md."""
    report = script_module("report")
    areas = {p.stem.removeprefix("report_") for p in (ROOT / "benchmarks").glob("report_*.py")}
    assert areas == set(report.AREAS), f"not in report.AREAS: {sorted(areas - set(report.AREAS))}"
