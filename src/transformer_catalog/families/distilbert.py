"""DistilBERT (Sanh et al., 2019): BERT with six layers and no segment embeddings, distilled from
BERT-base. Post-norm, learned positions, exact GELU. Checkpoint mapping below; the pretraining
heads (vocab_*) are not converted."""

from __future__ import annotations

from ..nn.config import AttentionConfig, EmbeddingConfig, FFNConfig, ModelConfig, NormConfig, PositionConfig
from ._family import Family
from ._hf import ACTIVATIONS_BACK, activation, encoder_layers, unsupported
from ._rules import linear, rule

HF_MODEL_TYPES = ("distilbert",)
HF_WRAPPER_PREFIXES = ("distilbert.",)
HF_PREFIX = ""
DEFAULTS = dict(
    model_type="distilbert",
    vocab_size=30522,
    max_position_embeddings=512,
    activation="gelu",
    dropout=0.1,
    attention_dropout=0.1,
    pad_token_id=0,
    sinusoidal_pos_embds=False,
)
layers = encoder_layers


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    unsupported(hf, "sinusoidal_pos_embds", (False,), False)
    return ModelConfig(
        arch="encoder",
        d_model=hf["dim"],
        n_encoder_layers=hf["n_layers"],
        n_decoder_layers=0,
        dropout=hf["dropout"],
        attention=AttentionConfig(n_heads=hf["n_heads"], dropout=hf["attention_dropout"]),
        position=PositionConfig(kind="learned", max_len=hf["max_position_embeddings"]),
        norm=NormConfig(placement="post", eps=1e-12),
        ffn=FFNConfig(d_ff=hf["hidden_dim"], activation=activation(hf, "activation")),
        embedding=EmbeddingConfig(
            vocab_size=hf["vocab_size"], pad_id=hf["pad_token_id"], scale=False, tie_output=False, norm=True
        ),
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    return {
        "model_type": "distilbert",
        "architectures": ["DistilBertModel"],
        "vocab_size": cfg.embedding.vocab_size,
        "dim": cfg.d_model,
        "n_layers": cfg.n_encoder_layers,
        "n_heads": cfg.attention.n_heads,
        "hidden_dim": cfg.ffn.d_ff,
        "activation": ACTIVATIONS_BACK[cfg.ffn.activation],
        "max_position_embeddings": cfg.position.max_len,
        "dropout": cfg.dropout,
        "attention_dropout": cfg.attention.dropout,
        "pad_token_id": cfg.embedding.pad_id,
    }


B, H = "encoder.blocks.{i}", "transformer.layer.{i}"
RULES = [
    rule("embed.tokens.weight", "embeddings.word_embeddings.weight"),
    rule("embed.positions.weight", "embeddings.position_embeddings.weight"),
    *linear("embed.norm", "embeddings.LayerNorm"),
    *linear(f"{B}.self_attn.q_proj", f"{H}.attention.q_lin"),
    *linear(f"{B}.self_attn.k_proj", f"{H}.attention.k_lin"),
    *linear(f"{B}.self_attn.v_proj", f"{H}.attention.v_lin"),
    *linear(f"{B}.self_attn.out_proj", f"{H}.attention.out_lin"),
    *linear(f"{B}.self_attn_norm", f"{H}.sa_layer_norm"),
    *linear(f"{B}.ffn.up", f"{H}.ffn.lin1"),
    *linear(f"{B}.ffn.down", f"{H}.ffn.lin2"),
    *linear(f"{B}.ffn_norm", f"{H}.output_layer_norm"),
]
IGNORED = ("vocab_transform.*", "vocab_layer_norm.*", "vocab_projector.*", "embeddings.position_ids")


FAMILY = Family(
    name="distilbert",
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
