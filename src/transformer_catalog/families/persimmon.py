"""Persimmon-8B (Adept, 2023): a pre-LayerNorm decoder with biases everywhere, squared-ReLU
feed-forward (not gated), rotary positions on half of each head, and LayerNorm of every head's query
and key (with gain and bias) before the rotation. Checkpoints fuse q, k and v head by head
([q_h, k_h, v_h] for each head h), as GPT-NeoX does."""

from __future__ import annotations

from ..nn.config import AttentionConfig, EmbeddingConfig, FFNConfig, ModelConfig, NormConfig
from ._decoder import IGNORED, check_roundtrip, rope, rope_to_hf
from ._family import Family
from ._hf import ACTIVATIONS_BACK, activation, decoder_layers
from ._rules import linear, rule

HF_MODEL_TYPES = ("persimmon",)
DEFAULTS = dict(model_type="persimmon", hidden_act="relu2", layer_norm_eps=1e-5, qk_layernorm=True)


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    params = hf.get("rope_parameters") or {}
    position = rope(hf, hf["max_position_embeddings"])
    position.rotary_fraction = float(params.get("partial_rotary_factor", hf.get("partial_rotary_factor", 0.5)))
    return ModelConfig(
        arch="decoder",
        d_model=hf["hidden_size"],
        n_encoder_layers=0,
        n_decoder_layers=hf["num_hidden_layers"],
        dropout=0.0,
        attention=AttentionConfig(
            n_heads=hf["num_attention_heads"],
            qk_norm="head" if hf["qk_layernorm"] else "none",
            dropout=float(hf.get("attention_dropout") or 0.0),
        ),
        position=position,
        norm=NormConfig(kind="layernorm", bias=True, placement="pre", final=True, eps=hf["layer_norm_eps"]),
        ffn=FFNConfig(d_ff=hf["intermediate_size"], activation=activation(hf, "hidden_act"), gated=False, bias=True),
        embedding=EmbeddingConfig(
            vocab_size=hf["vocab_size"],
            pad_id=hf.get("pad_token_id") or 0,
            scale=False,
            tie_output=bool(hf.get("tie_word_embeddings", False)),
        ),
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    a = cfg.attention
    hf = {
        "model_type": model_type,
        "architectures": ["PersimmonForCausalLM"],
        "vocab_size": cfg.embedding.vocab_size,
        "hidden_size": cfg.d_model,
        "intermediate_size": cfg.ffn.d_ff,
        "num_hidden_layers": cfg.n_decoder_layers,
        "num_attention_heads": a.n_heads,
        "hidden_act": ACTIVATIONS_BACK.get(cfg.ffn.activation, cfg.ffn.activation),
        "max_position_embeddings": cfg.position.max_len,
        "layer_norm_eps": cfg.norm.eps,
        "qk_layernorm": a.qk_norm == "head",
        "attention_dropout": a.dropout,
        "tie_word_embeddings": cfg.embedding.tie_output,
        "pad_token_id": cfg.embedding.pad_id,
        **rope_to_hf(cfg),
    }
    hf["rope_parameters"] = {**hf["rope_parameters"], "partial_rotary_factor": cfg.position.rotary_fraction}
    return check_roundtrip(cfg, hf, config_from_hf)


B, H = "decoder.blocks.{i}", "model.layers.{i}"
QKV = tuple(f"{B}.self_attn.{p}_proj" for p in "qkv")
RULES = [
    rule("embed.tokens.weight", "model.embed_tokens.weight"),
    rule(tuple(f"{q}.weight" for q in QKV), f"{H}.self_attn.query_key_value.weight", per_head=True),
    rule(tuple(f"{q}.bias" for q in QKV), f"{H}.self_attn.query_key_value.bias", per_head=True),
    *linear(f"{B}.self_attn.out_proj", f"{H}.self_attn.dense"),
    *linear(f"{B}.self_attn.q_norm", f"{H}.self_attn.q_layernorm"),
    *linear(f"{B}.self_attn.k_norm", f"{H}.self_attn.k_layernorm"),
    *linear(f"{B}.ffn.up", f"{H}.mlp.dense_h_to_4h"),
    *linear(f"{B}.ffn.down", f"{H}.mlp.dense_4h_to_h"),
    *linear(f"{B}.self_attn_norm", f"{H}.input_layernorm"),
    *linear(f"{B}.ffn_norm", f"{H}.post_attention_layernorm"),
    *linear("decoder.final_norm", "model.final_layernorm"),
    rule("head.weight", "lm_head.weight"),
]


FAMILY = Family(
    name="persimmon",
    defaults=DEFAULTS,
    hf_model_types=HF_MODEL_TYPES,
    config_from_hf=config_from_hf,
    config_to_hf=config_to_hf,
    rules=lambda cfg: RULES,
    layers=decoder_layers,
    ignored=IGNORED,
    hf_prefix="model.",
)
