"""IBM Granite 3.x (dense): LLaMA's layout with four multipliers in place of the usual constants —
token embeddings times embedding_multiplier, each sublayer's output times residual_multiplier before
the residual sum, attention logits scaled by attention_multiplier instead of 1/sqrt(head_dim), and
output logits divided by logits_scaling (muP-style training, as the Granite 3.0 report describes)."""

from __future__ import annotations

from ..nn.config import ModelConfig
from ._decoder import check_roundtrip, decoder_config, decoder_family, decoder_to_hf, hf_biases

HF_MODEL_TYPES = ("granite",)
DEFAULTS = dict(
    model_type="granite",
    rms_norm_eps=1e-6,
    hidden_act="silu",
    tie_word_embeddings=False,
    embedding_multiplier=1.0,
    logits_scaling=1.0,
    residual_multiplier=1.0,
    attention_multiplier=1.0,
)


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf, "layer_types": None}
    cfg = decoder_config(
        hf,
        **hf_biases(hf, mlp=True),
        attention={"scale": float(hf["attention_multiplier"])},
    )
    return cfg.replace(
        **{
            "residual_multiplier": float(hf["residual_multiplier"]),
            "embedding.multiplier": float(hf["embedding_multiplier"]),
            "embedding.logit_scale": 1.0 / float(hf["logits_scaling"]),
        }
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    hf = decoder_to_hf(cfg, model_type, "GraniteForCausalLM")
    del hf["layer_types"], hf["sliding_window"]
    hf |= {
        "attention_bias": cfg.attention.qkv_bias,
        "mlp_bias": cfg.ffn.bias,
        "attention_multiplier": cfg.attention.scale if cfg.attention.scale is not None else cfg.head_dim**-0.5,
        "residual_multiplier": cfg.residual_multiplier,
        "embedding_multiplier": cfg.embedding.multiplier,
        "logits_scaling": 1.0 / cfg.embedding.logit_scale,
    }
    return check_roundtrip(cfg, hf, config_from_hf)


FAMILY = decoder_family("granite", DEFAULTS, HF_MODEL_TYPES, config_from_hf, config_to_hf)
