"""OLMo 2: LLaMA's layout with the norms moved to the sublayers' outputs (x + Norm(Sublayer(x)), no
norm on a sublayer's input) and RMSNorm of the queries and keys across all heads at once, before the
rotation."""

from __future__ import annotations

from ..nn.config import ModelConfig
from ._decoder import IGNORED, check_roundtrip, decoder_config, decoder_rules, decoder_to_hf
from ._family import Family
from ._hf import decoder_layers

HF_MODEL_TYPES = ("olmo2",)
DEFAULTS = dict(model_type="olmo2", rms_norm_eps=1e-5, hidden_act="silu", tie_word_embeddings=False, pad_token_id=1)


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf, "layer_types": None}
    bias = bool(hf.get("attention_bias", False))
    return decoder_config(
        hf, qkv_bias=bias, out_bias=bias, attention={"qk_norm": "all"}, norm={"placement": "sublayer_output"}
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    hf = decoder_to_hf(cfg, model_type, "Olmo2ForCausalLM")
    del hf["layer_types"], hf["sliding_window"]
    hf["attention_bias"] = cfg.attention.qkv_bias
    return check_roundtrip(cfg, hf, config_from_hf)


FAMILY = Family(
    name="olmo2",
    defaults=DEFAULTS,
    hf_model_types=HF_MODEL_TYPES,
    config_from_hf=config_from_hf,
    config_to_hf=config_to_hf,
    rules=decoder_rules,
    layers=decoder_layers,
    ignored=IGNORED,
    hf_prefix="model.",
)
