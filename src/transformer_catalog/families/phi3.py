"""Phi-3 / Phi-3.5 / Phi-4-mini: LLaMA's computation with fused checkpoint tensors — one qkv_proj
holding [q; k; v] and one gate_up_proj holding [gate; up] along the output — split on load and fused
again on export; an optional sliding window on every layer, a rotating share of each head
(partial_rotary_factor, Phi-4-mini) and LongRoPE scaling (read as LLaMA's converter reads RoPE)."""

from __future__ import annotations

from ..nn.config import ModelConfig
from ._decoder import IGNORED, check_roundtrip, decoder_config, decoder_rules, decoder_to_hf, rope
from ._family import Family
from ._hf import decoder_layers

HF_MODEL_TYPES = ("phi3",)
DEFAULTS = dict(model_type="phi3", rms_norm_eps=1e-5, hidden_act="silu", tie_word_embeddings=False)


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    n = hf["num_hidden_layers"]
    window = hf.get("sliding_window")  # every layer: transformers' Phi-3 has no per-layer types
    types = ["sliding_attention" if window else "full_attention"] * n
    params = hf.get("rope_parameters") or {}
    fraction = float(params.get("partial_rotary_factor", hf.get("partial_rotary_factor", 1.0)))
    position = rope(hf, hf["max_position_embeddings"])
    position.rotary_fraction = fraction
    return decoder_config({**hf, "layer_types": types}, position=position)


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    hf = decoder_to_hf(cfg, model_type, "Phi3ForCausalLM")
    del hf["layer_types"]
    hf["original_max_position_embeddings"] = cfg.position.rope_original_len
    if cfg.position.rope_scaling in ("none", "linear", "llama3", "ntk"):
        hf["original_max_position_embeddings"] = cfg.position.max_len
    hf["partial_rotary_factor"] = cfg.position.rotary_fraction
    hf["rope_parameters"] = {**hf["rope_parameters"], "partial_rotary_factor": cfg.position.rotary_fraction}
    return check_roundtrip(cfg, hf, config_from_hf)


def rules(cfg: ModelConfig):
    return decoder_rules(cfg, fused_qkv="qkv_proj", fused_gate_up="gate_up_proj")


FAMILY = Family(
    name="phi3",
    defaults=DEFAULTS,
    hf_model_types=HF_MODEL_TYPES,
    config_from_hf=config_from_hf,
    config_to_hf=config_to_hf,
    rules=rules,
    layers=decoder_layers,
    ignored=IGNORED,
    hf_prefix="model.",
)
