"""Thread choice (never more threads than free cores) and the bf16 default (on where bf16 measures faster)."""

import os

import torch

from transformer_catalog import runtime


def test_free_cores_subtracts_the_load_of_other_processes(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.2, 0.0, 0.0))
    assert runtime.free_cores() == 1  # one core busy elsewhere: one thread, not a collapsing two
    monkeypatch.setattr(os, "getloadavg", lambda: (0.1, 0.0, 0.0))
    assert runtime.free_cores() == 2
    monkeypatch.setattr(os, "getloadavg", lambda: (5.0, 0.0, 0.0))
    assert runtime.free_cores() == 1  # never zero


def test_set_threads_prefers_an_explicit_count_then_omp_num_threads(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert runtime.set_threads(0) == 1 and torch.get_num_threads() == 1
        assert runtime.set_threads(2) == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_bf16_auto_follows_a_measurement_not_the_amx_flag(tmp_path, monkeypatch):
    with_amx, without = tmp_path / "amx", tmp_path / "no-amx"
    with_amx.write_text("processor : 0\nflags : fpu avx512f avx512_bf16 amx_bf16 amx_tile\n")
    without.write_text("processor : 0\nflags : fpu avx512f avx512_bf16\n")
    assert runtime.has_amx(str(with_amx)) and not runtime.has_amx(str(without))
    assert not runtime.has_amx(str(tmp_path / "missing"))
    monkeypatch.setattr(runtime, "has_amx", lambda: False)
    monkeypatch.setattr(runtime, "bf16_matmul_pays", lambda *shape: True)
    assert runtime.use_bf16("auto") and runtime.use_bf16("on") and not runtime.use_bf16("off")
    monkeypatch.setattr(runtime, "has_amx", lambda: True)
    monkeypatch.setattr(runtime, "bf16_matmul_pays", lambda *shape: False)
    assert not runtime.use_bf16("auto") and runtime.use_bf16("on")


def test_cxx_compiler_detection(monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert not runtime.has_cxx_compiler()
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/cc" if name == "cc" else None)
    assert runtime.has_cxx_compiler()
