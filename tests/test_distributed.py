"""Data parallelism from outside the model, under torchrun (gloo): 2 processes with gradient
accumulation 2 see the same gradient as 1 process with accumulation 4 (the same global batch), with
DDP and with FSDP2 sharding; gradients are synchronised only during the last micro-step of each
optimizer step; an FSDP run's checkpoint holds the same full weights as the single-process run's,
and resuming it under FSDP ends where the uninterrupted run ends."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

SCRIPT = Path(__file__).parent / "scripts" / "ddp_step.py"
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone"]

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without distributed")


def _run(args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(args, capture_output=True, text=True, timeout=180, env=env)
    assert res.returncode == 0, res.stderr[-3000:]


def _step(out: Path, accum: int, processes: int, mode: str = "ddp", steps: int = 1, resume: bool = False):
    launcher = TORCHRUN if processes == 2 else [sys.executable]
    _run([*launcher, str(SCRIPT), str(out), str(accum), mode, str(steps), *(["resume"] if resume else [])])
    if resume:
        return None, None
    return load_file(str(out / "grads.safetensors")), json.loads((out / "synced.json").read_text())


def _worst(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def _worst_relative(a: dict, b: dict) -> dict:
    """Per Adam moment kind (exp_avg, exp_avg_sq): the largest elementwise |a - b| / |b| (second
    moments are ~1e-20..1e-4; 79% are below 1e-6, so an absolute 1e-6 passes almost anything).
    Elements below 1e-6 of the kind's largest value are measured against that floor: parameters
    whose gradient is zero in exact arithmetic (a key bias) carry only float noise."""
    assert a.keys() == b.keys()
    out = {}
    for kind in ("exp_avg", "exp_avg_sq"):
        keys = [k for k in a if k.rsplit(".", 1)[-1] == kind]
        floor = 1e-6 * max(b[k].double().abs().max().item() for k in keys)
        out[kind] = max(
            ((a[k].double() - b[k].double()).abs() / b[k].double().abs().clamp_min(floor)).max().item() for k in keys
        )
    return out


# Measured (FSDP gathered vs one process, step 2): second moments 2e-5 relative, first moments 6e-3
# (they change sign; summation order across 2 ranks); a misplaced or stale shard differs by O(1).
def _moments_agree(a: dict, b: dict, where: str) -> None:
    rel = _worst_relative(a, b)
    assert rel["exp_avg_sq"] < 1e-4 and rel["exp_avg"] < 2e-2, f"{where}: Adam moments differ (relative) {rel}"


@pytest.mark.parametrize("mode", ["ddp", "fsdp"])
def test_two_processes_with_accumulation_equal_one_process_with_the_same_global_batch(tmp_path, mode):
    g1, _ = _step(tmp_path / "one", 4, 1)
    g2, synced = _step(tmp_path / "two", 2, 2, mode)
    worst = _worst(g1, g2)
    assert worst < 1e-6, f"{mode}: gradients differ by {worst}"
    assert synced == [2], f"{mode}: gradients synchronised during micro-steps {synced}, not only the last (2)"


def test_fsdp_checkpoint_is_the_full_model_and_resumes_exactly(tmp_path):
    """3 steps: the FSDP checkpoint (written at step 2, gathered from shards) equals the single-process
    one; resumed under FSDP to step 3 it equals the uninterrupted single-process run's step 3."""
    one, two = tmp_path / "one", tmp_path / "two"
    _step(one, 4, 1, steps=2)
    _step(two, 2, 2, "fsdp", steps=2)
    w1, w2 = (load_file(str(d / "checkpoint" / "model.safetensors")) for d in (one, two))
    # Adam moves each weight by ~lr * g / |g| (lr 3e-4 here): a near-zero gradient coordinate that
    # differs by float summation order can move by a visible fraction of that, so weights get 1e-4,
    # while the Adam moments themselves must agree to 1e-6. A misplaced shard would differ by ~0.1.
    assert _worst(w1, w2) < 1e-4
    o1, o2 = (load_file(str(d / "checkpoint" / "optimizer.safetensors")) for d in (one, two))
    assert _worst(o1, o2) < 1e-6, "Adam moments gathered from shards differ from the single-process run's"
    _moments_agree(o2, o1, "FSDP checkpoint")
    _step(one, 4, 1, steps=3, resume=True)
    _step(two, 2, 2, "fsdp", steps=3, resume=True)
    w1, w2 = (load_file(str(d / "checkpoint" / "model.safetensors")) for d in (one, two))
    assert json.loads((two / "checkpoint" / "trainer_state.json").read_text())["step"] == 3
    assert _worst(w1, w2) < 1e-4


@pytest.mark.slow
def test_resume_across_modes_ends_where_the_uninterrupted_run_ends(tmp_path):
    """A checkpoint is the same folder whatever wrote it: written at step 2 by FSDP, resumed by one
    process and by DDP; written by one process, resumed by FSDP; each run to step 3 equals the
    single-process run resumed to step 3."""
    one, fsdp = tmp_path / "one", tmp_path / "fsdp"
    _step(one, 4, 1, steps=2)
    _step(fsdp, 2, 2, "fsdp", steps=2)
    runs = {"fsdp->one": (fsdp, 4, 1, "ddp"), "fsdp->ddp": (fsdp, 2, 2, "ddp"), "one->fsdp": (one, 2, 2, "fsdp")}
    for name, (origin, accum, processes, mode) in runs.items():
        shutil.copytree(origin, tmp_path / name)
        _step(tmp_path / name, accum, processes, mode, steps=3, resume=True)
    _step(one, 4, 1, steps=3, resume=True)
    reference = load_file(str(one / "checkpoint" / "model.safetensors"))
    moments = load_file(str(one / "checkpoint" / "optimizer.safetensors"))
    for name in runs:
        folder = tmp_path / name / "checkpoint"
        assert json.loads((folder / "trainer_state.json").read_text())["step"] == 3, name
        assert _worst(load_file(str(folder / "model.safetensors")), reference) < 1e-4, name
        _moments_agree(load_file(str(folder / "optimizer.safetensors")), moments, name)
