"""KV-cache memory per token and active parameters (`tcat show`): computed from a config's numbers without torch, and
equal to what the decoder's cache actually holds after a forward pass (MHA, GQA, MLA)."""

import os
import subprocess
import sys

import pytest
import torch

from transformer_catalog.catalog.kvcache import describe, kv_cache
from transformer_catalog.catalog.specs import resolve
from transformer_catalog.nn.model import build_model


@pytest.mark.parametrize(
    "name,kv_heads,kind",
    [("GPT-2", None, "MHA"), ("Llama 3.1", 2, "GQA"), ("Llama 3.1", 1, "MQA"), ("DeepSeek-V3", None, "MLA")],
)
def test_figure_equals_what_the_cache_holds(name, kv_heads, kind):
    cfg = resolve(name, scale="tiny").config  # 4 query heads
    if kv_heads:
        cfg = cfg.replace(**{"attention.n_kv_heads": kv_heads})
    model = build_model(cfg).eval()
    cache = model.new_cache()
    batch, length = 2, 5
    with torch.no_grad():
        model(torch.randint(1, 100, (batch, length)), cache=cache)
    held = sum(layer.k.numel() + layer.v.numel() for layer in cache.layers) / (batch * length)
    kv = kv_cache(cfg)
    assert kv["kind"] == kind and kv["numbers"] == held
    assert kv["mha_numbers"] >= kv["numbers"] and (kv["mha_numbers"] > kv["numbers"]) == (kind != "MHA")


def test_published_sizes_by_hand():
    """DeepSeek-V3: 61 layers x (512 latent + 64 rotated key) x 2 bytes = 70,272 B; Llama 3.1 8B:
    32 layers x 2 x 8 heads x 128 x 2 bytes = 128 KiB; an encoder has no decoding cache."""
    v3 = kv_cache(resolve("DeepSeek-V3").config)
    assert v3["numbers"] * 2 == 70_272 and v3["kind"] == "MLA"
    assert describe(v3).startswith("68.6 KiB MLA (MHA: 4.77 MiB, 71.1x less)")
    assert kv_cache(resolve("Llama 3.1:8B").config)["numbers"] * 2 == 128 * 1024
    assert kv_cache(resolve("BERT").config) is None and describe(None) == "-"
    oss = describe(kv_cache(resolve("gpt-oss:20b").config))
    assert "12 layers keep <= 128 tokens" in oss


@pytest.mark.parametrize("damaged", [{"kind": 3}, {"kind": "MLA", "numbers": -1}, [], "x", {"kind": "GQA"}])
def test_a_damaged_cached_figure_shows_a_dash(damaged):
    assert describe(damaged) == "-"


def test_show_prints_it_and_stays_torch_free(tmp_path):
    env = {**os.environ, "TCAT_CACHE": str(tmp_path), "COLUMNS": "220"}
    cmd = [sys.executable, "-m", "transformer_catalog.cli", "show", "DeepSeek-V3"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert res.returncode == 0 and "KV cache / token" in res.stdout and "68.6 KiB MLA" in res.stdout
    assert "671B (37.6B active)" in res.stdout  # a mixture of experts: computed total and active counts
    code = (
        "import sys; from transformer_catalog.cli import main; main(['show', 'DeepSeek-V3']); "
        "import transformer_catalog.catalog.kvcache; assert 'torch' not in sys.modules, 'show imported torch'"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 0 and "68.6 KiB MLA" in res.stdout, res.stderr
