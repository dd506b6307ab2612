"""ALBERT (Lan et al., 2019): BERT with factorised embeddings (a narrow table projected to the
hidden width) and one set of layer weights shared by every layer. Checkpoint mapping below; the
pooler and the pretraining heads are not converted."""

from __future__ import annotations

from ..nn.config import AttentionConfig, EmbeddingConfig, FFNConfig, ModelConfig, NormConfig, PositionConfig
from ._family import Family
from ._hf import ACTIVATIONS_BACK, activation, unsupported
from ._rules import linear, rule

HF_MODEL_TYPES = ("albert",)
HF_WRAPPER_PREFIXES = ("albert.",)
HF_PREFIX = ""
DEFAULTS = dict(
    model_type="albert",
    vocab_size=30000,
    embedding_size=128,
    max_position_embeddings=512,
    type_vocab_size=2,
    hidden_act="gelu_new",
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
    layer_norm_eps=1e-12,
    pad_token_id=0,
    num_hidden_groups=1,
    inner_group_num=1,
)


def layers(cfg: ModelConfig) -> dict[str, int]:
    return {}  # one shared block


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    unsupported(hf, "num_hidden_groups", (1,), 1)
    unsupported(hf, "inner_group_num", (1,), 1)
    return ModelConfig(
        arch="encoder",
        d_model=hf["hidden_size"],
        n_encoder_layers=hf["num_hidden_layers"],
        n_decoder_layers=0,
        dropout=hf["hidden_dropout_prob"],
        share_layers=True,
        attention=AttentionConfig(n_heads=hf["num_attention_heads"], dropout=hf["attention_probs_dropout_prob"]),
        position=PositionConfig(kind="learned", max_len=hf["max_position_embeddings"]),
        norm=NormConfig(placement="post", eps=hf["layer_norm_eps"]),
        ffn=FFNConfig(d_ff=hf["intermediate_size"], activation=activation(hf, "hidden_act")),
        embedding=EmbeddingConfig(
            vocab_size=hf["vocab_size"],
            pad_id=hf["pad_token_id"],
            scale=False,
            tie_output=False,
            n_token_types=hf["type_vocab_size"],
            norm=True,
            d_embed=hf["embedding_size"],
        ),
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    return {
        "model_type": "albert",
        "architectures": ["AlbertModel"],
        "vocab_size": cfg.embedding.vocab_size,
        "embedding_size": cfg.embedding.d_embed or cfg.d_model,
        "hidden_size": cfg.d_model,
        "num_hidden_layers": cfg.n_encoder_layers,
        "num_attention_heads": cfg.attention.n_heads,
        "intermediate_size": cfg.ffn.d_ff,
        "hidden_act": ACTIVATIONS_BACK[cfg.ffn.activation],
        "max_position_embeddings": cfg.position.max_len,
        "type_vocab_size": cfg.embedding.n_token_types,
        "layer_norm_eps": cfg.norm.eps,
        "pad_token_id": cfg.embedding.pad_id,
        "hidden_dropout_prob": cfg.dropout,
        "attention_probs_dropout_prob": cfg.attention.dropout,
        "add_pooling_layer": False,
    }


B, H = "encoder.blocks.0", "encoder.albert_layer_groups.0.albert_layers.0"
RULES = [
    rule("embed.tokens.weight", "embeddings.word_embeddings.weight"),
    rule("embed.positions.weight", "embeddings.position_embeddings.weight"),
    rule("embed.token_types.weight", "embeddings.token_type_embeddings.weight"),
    *linear("embed.norm", "embeddings.LayerNorm"),
    *linear("embed.project", "encoder.embedding_hidden_mapping_in"),
    *linear(f"{B}.self_attn.q_proj", f"{H}.attention.query"),
    *linear(f"{B}.self_attn.k_proj", f"{H}.attention.key"),
    *linear(f"{B}.self_attn.v_proj", f"{H}.attention.value"),
    *linear(f"{B}.self_attn.out_proj", f"{H}.attention.dense"),
    *linear(f"{B}.self_attn_norm", f"{H}.attention.LayerNorm"),
    *linear(f"{B}.ffn.up", f"{H}.ffn"),
    *linear(f"{B}.ffn.down", f"{H}.ffn_output"),
    *linear(f"{B}.ffn_norm", f"{H}.full_layer_layer_norm"),
]
IGNORED = ("pooler.*", "predictions.*", "sop_classifier.*", "embeddings.position_ids", "embeddings.token_type_ids")


FAMILY = Family(
    name="albert",
    defaults=DEFAULTS,
    hf_model_types=HF_MODEL_TYPES,
    config_from_hf=config_from_hf,
    config_to_hf=config_to_hf,
    rules=lambda cfg: RULES,
    layers=layers,
    ignored=IGNORED,
    hf_prefix=HF_PREFIX,
    hf_wrapper_prefixes=HF_WRAPPER_PREFIXES,
)
