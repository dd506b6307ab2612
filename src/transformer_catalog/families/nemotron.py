"""Nemotron (NVIDIA: Nemotron-4, Minitron): a pre-LayerNorm decoder whose LayerNorms store their gain
as an offset from 1 (LayerNorm1P), a squared-ReLU feed-forward that is not gated, no biases by
default, RoPE on half of each head, grouped-query attention, an untied head."""

from __future__ import annotations

from ..nn.config import ModelConfig
from ._decoder import check_roundtrip, decoder_config, decoder_family, decoder_to_hf, hf_biases

HF_MODEL_TYPES = ("nemotron",)
DEFAULTS = dict(model_type="nemotron", hidden_act="relu2", norm_eps=1e-5, tie_word_embeddings=False)


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf, "layer_types": None}
    cfg = decoder_config(
        hf,
        **hf_biases(hf, mlp=True),
        norm={"kind": "layernorm", "bias": True, "unit_offset": True, "eps": float(hf["norm_eps"])},
    )
    params = hf.get("rope_parameters") or {}
    fraction = float(params.get("partial_rotary_factor", hf.get("partial_rotary_factor", 0.5)))
    return cfg.replace(**{"ffn.gated": False, "position.rotary_fraction": fraction})


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    hf = decoder_to_hf(cfg, model_type, "NemotronForCausalLM")
    del hf["layer_types"], hf["sliding_window"], hf["rms_norm_eps"]
    hf |= {"norm_eps": cfg.norm.eps, "attention_bias": cfg.attention.qkv_bias, "mlp_bias": cfg.ffn.bias}
    hf["rope_parameters"] = {**hf["rope_parameters"], "partial_rotary_factor": cfg.position.rotary_fraction}
    return check_roundtrip(cfg, hf, config_from_hf)


FAMILY = decoder_family("nemotron", DEFAULTS, HF_MODEL_TYPES, config_from_hf, config_to_hf)
