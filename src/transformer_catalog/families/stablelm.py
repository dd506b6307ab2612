"""StableLM (stablelm: StableLM-3B-4E1T, StableLM 2): LLaMA's layout with LayerNorm (gain and bias),
RoPE on a quarter of each head, optional biases on q, k and v, optional parallel attention and
feed-forward from one norm (StableLM 2 12B), and optional per-head LayerNorms of queries and keys,
each head with a gain of its own (stored one LayerNorm per head; stacked here)."""

from __future__ import annotations

import torch

from ..nn.config import ModelConfig
from ._decoder import check_roundtrip, decoder_config, decoder_family, decoder_to_hf

HF_MODEL_TYPES = ("stablelm",)
DEFAULTS = dict(model_type="stablelm", hidden_act="silu", layer_norm_eps=1e-5, tie_word_embeddings=False)


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf, "layer_types": None}
    cfg = decoder_config(
        hf,
        qkv_bias=bool(hf.get("use_qkv_bias", False)),
        norm={"kind": "layernorm", "bias": True, "eps": float(hf["layer_norm_eps"])},
        attention={"qk_norm": "head_gains" if hf.get("qk_layernorm") else "none"},
    )
    params = hf.get("rope_parameters") or {}
    parallel = bool(hf.get("use_parallel_residual", False))
    return cfg.replace(
        **{
            "position.rotary_fraction": float(
                params.get("partial_rotary_factor", hf.get("partial_rotary_factor", 0.25))
            ),
            "parallel_residual": parallel,
            "norm.shared_parallel": parallel,
        }
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    hf = decoder_to_hf(cfg, model_type, "StableLmForCausalLM")
    del hf["layer_types"], hf["sliding_window"]
    hf |= {
        "layer_norm_eps": cfg.norm.eps,
        "use_qkv_bias": cfg.attention.qkv_bias,
        "qk_layernorm": cfg.attention.qk_norm == "head_gains",
        "use_parallel_residual": cfg.parallel_residual,
    }
    hf["rope_parameters"] = {**hf["rope_parameters"], "partial_rotary_factor": cfg.position.rotary_fraction}
    return check_roundtrip(cfg, hf, config_from_hf)


def _names(i: int, norm: str) -> tuple[str, str]:
    return f"model.layers.{i}.self_attn.{norm}_layernorm.norms", f"model.layers.{i}.self_attn.{norm}_norm.weight"


def pack(tensors: dict, cfg: ModelConfig, where: str) -> dict:
    """One LayerNorm per head (q_layernorm.norms.{h}.weight) -> a (heads, head_dim) gain."""
    out = dict(tensors)
    if cfg.attention.qk_norm != "head_gains":
        return out
    for i in range(cfg.n_decoder_layers):
        for norm, heads in (("q", cfg.attention.n_heads), ("k", cfg.n_kv_heads)):
            theirs, ours = _names(i, norm)
            names = [f"{theirs}.{h}.weight" for h in range(heads)]
            if all(n in out for n in names):
                out[ours] = torch.stack([out.pop(n) for n in names])
    return out


def unpack(tensors: dict, cfg: ModelConfig) -> dict:
    out = dict(tensors)
    for i in range(cfg.n_decoder_layers):
        for norm in ("q", "k"):
            theirs, ours = _names(i, norm)
            if ours in out:
                for h, gain in enumerate(out.pop(ours)):
                    out[f"{theirs}.{h}.weight"] = gain.contiguous()
    return out


FAMILY = decoder_family("stablelm", DEFAULTS, HF_MODEL_TYPES, config_from_hf, config_to_hf, pack=pack, unpack=unpack)
