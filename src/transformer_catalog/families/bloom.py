"""BLOOM (BigScience, 2022): a pre-norm decoder with ALiBi position biases instead of position
embeddings, a LayerNorm right after the token embedding, GELU (tanh form), fused per-head QKV and
an output projection tied to the embedding. Checkpoint mapping below."""

from __future__ import annotations

from ..nn.config import AttentionConfig, EmbeddingConfig, FFNConfig, ModelConfig, NormConfig, PositionConfig
from ._family import Family
from ._hf import decoder_layers, unsupported
from ._rules import linear, rule

HF_MODEL_TYPES = ("bloom",)
HF_WRAPPER_PREFIXES: tuple[str, ...] = ()
HF_PREFIX = "transformer."
DEFAULTS = dict(
    model_type="bloom",
    vocab_size=250880,
    layer_norm_epsilon=1e-5,
    hidden_dropout=0.0,
    attention_dropout=0.0,
    apply_residual_connection_post_layernorm=False,
    pad_token_id=3,
    max_len=2048,
)


layers = decoder_layers


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    unsupported(hf, "apply_residual_connection_post_layernorm", (False,), False)
    d = hf["hidden_size"]
    return ModelConfig(
        arch="decoder",
        d_model=d,
        n_encoder_layers=0,
        n_decoder_layers=hf["n_layer"],
        dropout=hf["hidden_dropout"],
        attention=AttentionConfig(n_heads=hf["n_head"], dropout=hf["attention_dropout"]),
        position=PositionConfig(kind="alibi", max_len=hf["max_len"]),  # ALiBi extrapolates; 2048 is the trained length
        norm=NormConfig(placement="pre", final=True, eps=hf["layer_norm_epsilon"]),
        ffn=FFNConfig(d_ff=4 * d, activation="gelu_tanh"),
        embedding=EmbeddingConfig(
            vocab_size=hf["vocab_size"], pad_id=hf["pad_token_id"], scale=False, tie_output=True, norm=True
        ),
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    return {
        "model_type": "bloom",
        "architectures": ["BloomForCausalLM"],
        "vocab_size": cfg.embedding.vocab_size,
        "hidden_size": cfg.d_model,
        "n_layer": cfg.n_decoder_layers,
        "n_head": cfg.attention.n_heads,
        "layer_norm_epsilon": cfg.norm.eps,
        "hidden_dropout": cfg.dropout,
        "attention_dropout": cfg.attention.dropout,
        "pad_token_id": cfg.embedding.pad_id,
        "tie_word_embeddings": True,
    }


B, H = "decoder.blocks.{i}", "transformer.h.{i}"
RULES = [
    rule("embed.tokens.weight", "transformer.word_embeddings.weight"),
    *linear("embed.norm", "transformer.word_embeddings_layernorm"),
    *linear(f"{B}.self_attn_norm", f"{H}.input_layernorm"),
    rule(
        (f"{B}.self_attn.q_proj.weight", f"{B}.self_attn.k_proj.weight", f"{B}.self_attn.v_proj.weight"),
        f"{H}.self_attention.query_key_value.weight",
        per_head=True,
    ),
    rule(
        (f"{B}.self_attn.q_proj.bias", f"{B}.self_attn.k_proj.bias", f"{B}.self_attn.v_proj.bias"),
        f"{H}.self_attention.query_key_value.bias",
        per_head=True,
    ),
    *linear(f"{B}.self_attn.out_proj", f"{H}.self_attention.dense"),
    *linear(f"{B}.ffn_norm", f"{H}.post_attention_layernorm"),
    *linear(f"{B}.ffn.up", f"{H}.mlp.dense_h_to_4h"),
    *linear(f"{B}.ffn.down", f"{H}.mlp.dense_4h_to_h"),
    *linear("decoder.final_norm", "transformer.ln_f"),
]
IGNORED = ("lm_head.weight",)


FAMILY = Family(
    name="bloom",
    defaults=DEFAULTS,
    hf_model_types=HF_MODEL_TYPES,
    config_from_hf=config_from_hf,
    config_to_hf=config_to_hf,
    rules=lambda cfg: RULES,
    layers=layers,
    ignored=IGNORED,
    hf_prefix=HF_PREFIX,
)
