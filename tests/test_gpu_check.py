"""scripts/gpu_check.py: on a CPU it skips in one line with exit 0; its device choice and the parity
checks it runs on CUDA are tested here on the CPU (the same functions, device "cpu")."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from repo_scripts import script_module

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    return script_module("gpu_check", "scripts")


def test_device_choice(gpu_check):
    assert gpu_check.choose_device(cuda_available=False) is None
    assert gpu_check.choose_device(cuda_available=True) == "cuda"
    assert gpu_check.choose_device() == ("cuda" if torch.cuda.is_available() else None)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the skip is for machines without CUDA")
def test_skips_cleanly_without_cuda():
    res = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines() == [res.stdout.strip()]  # one line
    assert res.stdout.startswith("gpu-check: skipped, no CUDA device") and res.stderr == ""


def test_model_parity_check_runs_on_a_device_and_can_fail(gpu_check, monkeypatch):
    rows = gpu_check.check_models("cpu")
    assert [r["check"].split()[1] for r in rows] == ["encoder", "decoder", "encoder-decoder"]
    assert all(r["ok"] for r in rows), rows
    # a broken eager reference is caught: the check compares numbers, it does not only run
    import transformer_catalog.nn.attention as attention

    real = attention.eager_attention
    monkeypatch.setattr(attention, "eager_attention", lambda q, k, v, *a, **kw: real(q, k, v, *a, **kw) * 1.01)
    assert not all(r["ok"] for r in gpu_check.check_models("cpu"))


def test_kernel_check_on_cpu_flash(gpu_check):
    rows = gpu_check.check_kernels("cpu", kernels=("FLASH_ATTENTION",), dtypes=("bfloat16",))
    assert [r["check"] for r in rows] == ["sdpa flash_attention bfloat16 causal"]
    assert rows[0]["ok"] and rows[0]["max_abs_diff"] > 0, rows  # bf16 differs a little from fp32, within bounds


def test_tolerances_order_by_precision(gpu_check):
    assert gpu_check.tolerance(torch.float32) < gpu_check.tolerance(torch.float16) < gpu_check.tolerance(torch.bfloat16)
