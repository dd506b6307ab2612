"""Data parallelism from outside the model: 2 processes (torchrun, gloo) with gradient accumulation
2 see the same gradient as 1 process with accumulation 4 (the same global batch), and DDP all-reduces
only during the last micro-step of each optimizer step."""

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


def _run(args, tmp):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    return load_file(str(tmp / "grads.safetensors")), json.loads((tmp / "synced.json").read_text())


@pytest.mark.skipif(shutil.which("torchrun") is None and not hasattr(torch.distributed, "run"), reason="no torchrun")
def test_two_processes_with_accumulation_equal_one_process_with_the_same_global_batch(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    g1, _ = _run([sys.executable, str(SCRIPT), str(one), "4"], one)
    g2, synced = _run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
                       str(SCRIPT), str(two), "2"], two)
    assert g1.keys() == g2.keys()
    worst = max((g1[k] - g2[k]).abs().max().item() for k in g1)
    assert worst < 1e-6, f"gradients differ by {worst}"
    assert synced and set(synced) == {2}, f"all-reduce ran during micro-steps {synced}, not only the last (2)"
