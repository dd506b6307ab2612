"""tcat verify: catalog entries built by the core, counted on the meta device, compared with the
published sizes; a spec that disagrees without explanation fails."""

import os
import shutil
import subprocess
import sys

import pytest
import torch

from transformer_catalog.catalog.load import LINEAGE, MODELS, load_catalog
from transformer_catalog.catalog.specs import resolve
from transformer_catalog.catalog.verify import verify
from transformer_catalog.nn import AttentionConfig, ModelConfig, build_model, count_parameters


def test_shipped_catalog_verifies():
    checks = verify(load_catalog())
    assert {c.status for c in checks} <= {"ok", "explained"}
    assert len({c.entry for c in checks}) >= 19 and len(checks) >= 60
    palm = {c.variant: c for c in checks if c.entry == "PaLM"}
    assert abs(palm["540B"].delta) < 0.001  # heads of 256 at width 18,432: exactly Table 1's 540.35B


def test_cli_fails_on_an_unexplained_difference(tmp_path):
    for name in ("transformer", "bert"):
        shutil.copy(MODELS / f"{name}.yaml", tmp_path)
    bert = tmp_path / "bert.yaml"
    bert.write_text(bert.read_text().replace("params: 340000000", "params: 300000000"))
    from transformer_catalog.catalog.load import load_catalog as load

    checks = verify(load(tmp_path, LINEAGE), ["BERT"])
    large = next(c for c in checks if c.variant == "large")
    assert large.status == "FAIL" and round(100 * large.delta, 1) == 11.4
    res = subprocess.run(
        [sys.executable, "-m", "transformer_catalog.cli", "verify", "Transformer"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert res.returncode == 0 and "explained" in res.stdout


@pytest.mark.parametrize("name", ["transformer-base", "gpt2-medium", "llama-13b", "bert-base"])
def test_extrapolated_count_equals_a_full_build(name):
    cfg = resolve(name).config  # named configs and the short names of published sizes (catalog)
    direct = sum(p.numel() for p in build_model(cfg, device="meta").parameters())
    assert count_parameters(cfg) == direct


def test_head_dim_independent_of_width():
    cfg = ModelConfig(
        arch="decoder",
        d_model=48,
        n_encoder_layers=0,
        n_decoder_layers=2,
        dropout=0.0,
        attention=AttentionConfig(n_heads=4, n_kv_heads=2, head_dim=16, backend="eager"),
    )
    cfg = cfg.replace(
        **{"embedding.vocab_size": 50, "position.kind": "rope", "norm.placement": "pre", "norm.final": True}
    )
    eager = build_model(cfg).eval()
    sdpa = build_model(cfg.replace(**{"attention.backend": "sdpa"})).eval()
    sdpa.load_state_dict(eager.state_dict())
    assert eager.decoder.blocks[0].self_attn.q_proj.weight.shape == (64, 48)
    ids = torch.randint(0, 50, (2, 7))
    assert (eager(ids) - sdpa(ids)).abs().max() < 1e-5


def test_readme_verified_sizes_table_is_current():
    from pathlib import Path

    script = Path(__file__).parent.parent / "scripts" / "readme_tables.py"
    res = subprocess.run([sys.executable, str(script), "--check"])
    assert res.returncode == 0, "README tables are stale: run python scripts/readme_tables.py"


@pytest.mark.parametrize(
    "name,variant",
    [
        ("T5", "base"),
        ("Mixtral 8x7B", "8x7B"),
        ("ALBERT", "base"),
        ("BLOOM", "560M"),
        ("PaLM", "8B"),
        ("Megatron", "BERT-style"),
        ("LaMDA", "137B"),
    ],
)
def test_tiny_builds_of_catalog_specs_run(name, variant, tmp_path):
    from transformer_catalog.train.checkpoint import load_model

    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "transformer_catalog.cli",
            "build",
            name,
            "--variant",
            variant,
            "--scale",
            "tiny",
            "--out",
            str(tmp_path / "m"),
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    model, meta, _ = load_model(tmp_path / "m")
    ids = torch.randint(1, 100, (2, 6))
    out = model(ids, ids) if model.config.arch == "encoder-decoder" else model(ids)
    assert torch.isfinite(out).all()


def test_build_refuses_entries_without_a_spec_with_the_reason():
    res = subprocess.run(
        [sys.executable, "-m", "transformer_catalog.cli", "build", "GPT-4"], capture_output=True, text=True
    )
    assert (
        res.returncode == 2
        and "GPT-4 has no architecture spec: the architecture and size are not published" in res.stderr
    )


def test_show_adds_the_computed_breakdown_and_flops(tmp_path):
    env = {**os.environ, "TCAT_CACHE": str(tmp_path), "COLUMNS": "220"}
    res = subprocess.run(
        [sys.executable, "-m", "transformer_catalog.cli", "show", "LLaMA"], capture_output=True, text=True, env=env
    )
    assert res.returncode == 0 and "computed" in res.stdout and "6.74B" in res.stdout and "GFLOP/token" in res.stdout
    # Second time: from the cache, without importing torch.
    code = (
        "import sys; from transformer_catalog.cli import main; main(['show', 'LLaMA']); "
        "assert 'torch' not in sys.modules, 'show imported torch'"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr


def test_flops_count_each_applied_layer():
    from transformer_catalog.nn.count import forward_flops_per_token

    bert = forward_flops_per_token(resolve("bert-base").config, 512)
    shared = forward_flops_per_token(resolve("bert-base").config.replace(share_layers=True), 512)
    assert bert == shared  # ALBERT-style sharing saves parameters, not compute
    llama = resolve("llama-7b").config
    assert (
        abs(
            forward_flops_per_token(llama, 2048) - (2 * (count_parameters(llama) - 32000 * 4096) + 4 * 32 * 2048 * 4096)
        )
        < 1e6
    )
    # GPT-Neo-style alternation: half the layers see a 256-token window
    banded = llama.replace(**{"attention.window": 256, "attention.window_pattern": "GL"})
    saved = forward_flops_per_token(llama, 2048) - forward_flops_per_token(banded, 2048)
    assert abs(saved - 4 * 16 * (2048 - 256) * 4096) < 1e3
