"""Qwen2 / Qwen2.5 and Qwen3 (dense): LLaMA's layout with biases on the query, key and value
projections but not the output (Qwen2), or per-head RMSNorm of queries and keys before the rotation
and a head size of its own (Qwen3); optional sliding windows on the layers `layer_types` marks."""

from __future__ import annotations

from ..nn.config import ModelConfig
from ._decoder import check_roundtrip, decoder_config, decoder_family, decoder_to_hf, hf_biases
from ._hf import unsupported

HF_MODEL_TYPES = ("qwen2", "qwen3")
DEFAULTS = dict(model_type="qwen2", rms_norm_eps=1e-6, hidden_act="silu", tie_word_embeddings=False)


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    if not hf.get("use_sliding_window", False):  # transformers ignores sliding_window unless this is set
        hf = {**hf, "sliding_window": None, "layer_types": None}
    if hf["model_type"] == "qwen3":
        hf = {"head_dim": 128, **hf}  # Qwen3Config's default, not hidden_size / heads
        return decoder_config(hf, **hf_biases(hf), attention={"qk_norm": "head"})
    unsupported(hf, "attention_bias", (None, True), None)  # Qwen2's q/k/v always have biases, o never
    return decoder_config(hf, qkv_bias=True, out_bias=False)


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    hf = decoder_to_hf(cfg, model_type, {"qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}[model_type])
    hf["use_sliding_window"] = hf["sliding_window"] is not None
    hf["max_window_layers"] = cfg.n_decoder_layers  # layer_types decides; kept consistent with it
    if model_type == "qwen3":
        hf["attention_bias"] = cfg.attention.qkv_bias
    return check_roundtrip(cfg, hf, config_from_hf)


FAMILY = decoder_family("qwen", DEFAULTS, HF_MODEL_TYPES, config_from_hf, config_to_hf)
