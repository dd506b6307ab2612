"""Cohere's Command R / R+ (cohere) and Command R7B / Command A (cohere2): attention and feed-forward in
parallel from one bias-free LayerNorm, a tied head whose logits are scaled (logit_scale), and RoPE
in the interleaved layout (pairs 2i, 2i + 1), which the converter turns into tcat's rotate-half
layout by permuting the query and key projection rows. cohere2 adds sliding windows on three layers
of four, and only those rotate: its global layers use no positions (NoPE)."""

from __future__ import annotations

import torch

from ..nn.config import ModelConfig
from ._decoder import (
    check_roundtrip,
    decoder_config,
    decoder_family,
    decoder_to_hf,
    expand,
    fail,
    hf_biases,
    layer_types,
    period,
)

HF_MODEL_TYPES = ("cohere", "cohere2")
DEFAULTS = dict(
    model_type="cohere", hidden_act="silu", layer_norm_eps=1e-5, tie_word_embeddings=True, logit_scale=0.0625
)


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    n = hf["num_hidden_layers"]
    if hf["model_type"] == "cohere":
        hf = {**hf, "layer_types": None}
    else:
        hf = {"sliding_window": 4096, **hf}
        if not hf.get("layer_types"):  # every fourth layer global (sliding_window_pattern 4)
            every = int(hf.get("sliding_window_pattern") or 4)
            hf["layer_types"] = ["sliding_attention" if (i + 1) % every else "full_attention" for i in range(n)]
    cfg = decoder_config(
        hf,
        **hf_biases(hf),
        norm={"kind": "layernorm", "eps": float(hf["layer_norm_eps"])},
        # Command R+: LayerNorm of each head's queries and keys, a gain per head and dimension
        attention={"qk_norm": "head_gains" if hf.get("use_qk_norm") else "none"},
    )
    rope_layers = "R"
    if hf["model_type"] == "cohere2":  # only the sliding layers rotate
        rope_layers = period("".join("R" if t == "sliding_attention" else "N" for t in hf["layer_types"]))
    return cfg.replace(
        **{
            "parallel_residual": True,
            "norm.shared_parallel": True,
            "embedding.logit_scale": float(hf["logit_scale"] if hf["logit_scale"] is not None else 1.0),
            "position.rope_layers": rope_layers,
        }
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    hf = decoder_to_hf(cfg, model_type, {"cohere": "CohereForCausalLM", "cohere2": "Cohere2ForCausalLM"}[model_type])
    hf |= {
        "layer_norm_eps": cfg.norm.eps,
        "logit_scale": cfg.embedding.logit_scale,
        "attention_bias": cfg.attention.qkv_bias,
        "use_qk_norm": cfg.attention.qk_norm == "head_gains",
    }
    if model_type == "cohere":
        del hf["layer_types"], hf["sliding_window"]
    elif expand(cfg.position.rope_layers, cfg.n_decoder_layers) != "".join(
        "R" if t == "sliding_attention" else "N" for t in layer_types(cfg)
    ):
        raise fail(hf, "position.rope_layers", cfg.position.rope_layers, "must rotate exactly the sliding layers")
    return check_roundtrip(cfg, hf, config_from_hf)


def _order(cfg: ModelConfig, heads: int) -> torch.Tensor:
    """Row order taking interleaved-rotary heads (pairs 2i, 2i + 1) to rotate-half (i, i + d/2)."""
    hd = cfg.head_dim
    per_head = list(range(0, hd, 2)) + list(range(1, hd, 2))
    return torch.tensor([h * hd + i for h in range(heads) for i in per_head])


def _permuted(tensors: dict, cfg: ModelConfig, inverse: bool) -> dict:
    """Projection rows (and the q/k norms' per-head gains, along head_dim) in the other rotary layout."""
    out = dict(tensors)
    for proj, norm, heads in (("q_proj", "q_norm", cfg.attention.n_heads), ("k_proj", "k_norm", cfg.n_kv_heads)):
        order = _order(cfg, heads)
        within = order[: cfg.head_dim]  # one head's order
        order, within = (torch.argsort(order), torch.argsort(within)) if inverse else (order, within)
        for i in range(cfg.n_decoder_layers):
            for kind in ("weight", "bias"):
                key = f"model.layers.{i}.self_attn.{proj}.{kind}"
                if key in out:
                    out[key] = out[key][order].contiguous()
            key = f"model.layers.{i}.self_attn.{norm}.weight"
            if key in out:
                out[key] = out[key][:, within].contiguous()
    return out


def pack(tensors: dict, cfg: ModelConfig, where: str) -> dict:
    return _permuted(tensors, cfg, inverse=False)


def unpack(tensors: dict, cfg: ModelConfig) -> dict:
    return _permuted(tensors, cfg, inverse=True)


FAMILY = decoder_family("cohere", DEFAULTS, HF_MODEL_TYPES, config_from_hf, config_to_hf, pack=pack, unpack=unpack)
