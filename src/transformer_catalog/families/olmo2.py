"""OLMo 2 and OLMo 3: LLaMA's layout with the norms moved to the sublayers' outputs (x + Norm(Sublayer(x)),
no norm on a sublayer's input) and RMSNorm of the queries and keys across all heads at once, before the
rotation. OLMo 3 adds sliding windows (three layers of four) whose RoPE stays unscaled when the global
layers' is scaled."""

from __future__ import annotations

from ..nn.config import ModelConfig
from ._decoder import (
    check_roundtrip,
    decoder_config,
    decoder_family,
    decoder_to_hf,
    hf_biases,
    per_type_rope,
    per_type_rope_to_hf,
)

HF_MODEL_TYPES = ("olmo2", "olmo3")
DEFAULTS = dict(model_type="olmo2", rms_norm_eps=1e-5, hidden_act="silu", tie_word_embeddings=False, pad_token_id=1)


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    common = dict(**hf_biases(hf), attention={"qk_norm": "all"}, norm={"placement": "sublayer_output"})
    if hf["model_type"] == "olmo2":
        return decoder_config({**hf, "layer_types": None}, **common)
    n = hf["num_hidden_layers"]
    hf = {"sliding_window": 4096, **hf}
    if not hf.get("layer_types"):  # transformers' default: every fourth layer global
        hf["layer_types"] = ["sliding_attention" if (i + 1) % 4 else "full_attention" for i in range(n)]
    theta = float(hf.get("rope_theta") or 500_000.0)  # both kinds' base when config.json gives them none
    full, local_theta = per_type_rope(hf, theta, theta)
    cfg = decoder_config({**hf, "rope_scaling": None, "rope_parameters": full}, **common)
    return cfg.replace(**{"position.rope_local_theta": local_theta})


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    hf = decoder_to_hf(cfg, model_type, {"olmo2": "Olmo2ForCausalLM", "olmo3": "Olmo3ForCausalLM"}[model_type])
    if model_type == "olmo2":
        del hf["layer_types"], hf["sliding_window"]
    else:
        per_type_rope_to_hf(cfg, hf)
    hf["attention_bias"] = cfg.attention.qkv_bias
    return check_roundtrip(cfg, hf, config_from_hf)


FAMILY = decoder_family("olmo2", DEFAULTS, HF_MODEL_TYPES, config_from_hf, config_to_hf)
