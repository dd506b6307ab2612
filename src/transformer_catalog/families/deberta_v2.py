"""DeBERTa-v2 and v3 (He et al., 2020, 2021): BERT's post-norm encoder with disentangled attention
(content-to-position and position-to-content logits over a shared, LayerNorm-ed table of bucketed
relative positions) instead of absolute position embeddings. DeBERTa-v3 keeps this architecture and
changes the pretraining (ELECTRA-style replaced-token detection). Checkpoint mapping below; the
pretraining heads are not converted."""

from __future__ import annotations

from ..errors import TcatError
from ..nn.config import AttentionConfig, EmbeddingConfig, FFNConfig, ModelConfig, NormConfig, PositionConfig
from ._family import Family
from ._hf import ACTIVATIONS_BACK, activation, encoder_layers, unsupported
from ._rules import linear, rule

HF_MODEL_TYPES = ("deberta-v2",)
HF_WRAPPER_PREFIXES = ("deberta.",)
HF_PREFIX = ""
# The released v2/v3 checkpoints' settings (DeBERTa-v3-base shown); the config class's own defaults
# describe a model without relative attention, which is not what any DeBERTa checkpoint uses.
DEFAULTS = dict(
    model_type="deberta-v2",
    vocab_size=128100,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    hidden_act="gelu",
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
    max_position_embeddings=512,
    type_vocab_size=0,
    layer_norm_eps=1e-7,
    relative_attention=True,
    position_biased_input=False,
    pos_att_type=["p2c", "c2p"],
    share_att_key=True,
    norm_rel_ebd="layer_norm",
    position_buckets=256,
    max_relative_positions=-1,
    pad_token_id=0,
    conv_kernel_size=0,
)

layers = encoder_layers


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    for key, allowed in (
        ("relative_attention", (True,)),
        ("position_biased_input", (False,)),
        ("share_att_key", (True,)),
        ("norm_rel_ebd", ("layer_norm",)),
        ("conv_kernel_size", (0,)),
    ):
        unsupported(hf, key, allowed)
    types = hf["pos_att_type"]
    types = types.split("|") if isinstance(types, str) else list(types or [])
    if sorted(t.strip() for t in types) != ["c2p", "p2c"]:
        raise TcatError(
            f"Hugging Face config deberta-v2: pos_att_type={hf['pos_att_type']!r} is not supported "
            "(supported: ['p2c', 'c2p'])"
        )
    if hf.get("embedding_size", hf["hidden_size"]) != hf["hidden_size"]:
        raise TcatError("Hugging Face config deberta-v2: embedding_size != hidden_size is not supported yet")
    d, heads = hf["hidden_size"], hf["num_attention_heads"]
    max_rel = hf["max_relative_positions"] if hf["max_relative_positions"] > 0 else hf["max_position_embeddings"]
    return ModelConfig(
        arch="encoder",
        d_model=d,
        n_encoder_layers=hf["num_hidden_layers"],
        n_decoder_layers=0,
        dropout=hf["hidden_dropout_prob"],
        # three logit terms (content, c2p, p2c), so 1/sqrt(3 d_head) instead of 1/sqrt(d_head)
        attention=AttentionConfig(
            n_heads=heads, dropout=hf["attention_probs_dropout_prob"], scale=(3 * d // heads) ** -0.5
        ),
        position=PositionConfig(
            kind="disentangled",
            max_len=hf["max_position_embeddings"],
            relative_buckets=max(hf["position_buckets"], 0),
            relative_max_distance=max_rel,
        ),
        norm=NormConfig(placement="post", final=False, eps=hf["layer_norm_eps"]),
        ffn=FFNConfig(d_ff=hf["intermediate_size"], activation=activation(hf, "hidden_act")),
        embedding=EmbeddingConfig(
            vocab_size=hf["vocab_size"],
            pad_id=hf["pad_token_id"] or 0,
            scale=False,
            tie_output=False,
            n_token_types=hf["type_vocab_size"],
            norm=True,
        ),
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    if cfg.position.kind != "disentangled":
        raise TcatError("export as deberta-v2: the model has no disentangled attention (position.kind)")
    if abs((cfg.attention.scale or 0) - (3 * cfg.head_dim) ** -0.5) > 1e-12:
        raise TcatError("export as deberta-v2: attention.scale must be 1/sqrt(3 * head_dim)")
    return {
        "model_type": "deberta-v2",
        "architectures": ["DebertaV2Model"],
        "vocab_size": cfg.embedding.vocab_size,
        "hidden_size": cfg.d_model,
        "num_hidden_layers": cfg.n_encoder_layers,
        "num_attention_heads": cfg.attention.n_heads,
        "intermediate_size": cfg.ffn.d_ff,
        "hidden_act": ACTIVATIONS_BACK[cfg.ffn.activation],
        "hidden_dropout_prob": cfg.dropout,
        "attention_probs_dropout_prob": cfg.attention.dropout,
        "max_position_embeddings": cfg.position.max_len,
        "type_vocab_size": cfg.embedding.n_token_types,
        "layer_norm_eps": cfg.norm.eps,
        "relative_attention": True,
        "position_biased_input": False,
        "pos_att_type": ["p2c", "c2p"],
        "share_att_key": True,
        "norm_rel_ebd": "layer_norm",
        "position_buckets": cfg.position.relative_buckets or -1,
        "max_relative_positions": cfg.position.relative_max_distance,
        "pad_token_id": cfg.embedding.pad_id,
    }


B, H = "encoder.blocks.{i}", "encoder.layer.{i}"
RULES = [
    rule("embed.tokens.weight", "embeddings.word_embeddings.weight"),
    rule("embed.token_types.weight", "embeddings.token_type_embeddings.weight"),
    *linear("embed.norm", "embeddings.LayerNorm"),
    rule("encoder.disentangled.weight", "encoder.rel_embeddings.weight"),
    *linear("encoder.disentangled.norm", "encoder.LayerNorm"),
    *linear(f"{B}.self_attn.q_proj", f"{H}.attention.self.query_proj"),
    *linear(f"{B}.self_attn.k_proj", f"{H}.attention.self.key_proj"),
    *linear(f"{B}.self_attn.v_proj", f"{H}.attention.self.value_proj"),
    *linear(f"{B}.self_attn.out_proj", f"{H}.attention.output.dense"),
    *linear(f"{B}.self_attn_norm", f"{H}.attention.output.LayerNorm"),
    *linear(f"{B}.ffn.up", f"{H}.intermediate.dense"),
    *linear(f"{B}.ffn.down", f"{H}.output.dense"),
    *linear(f"{B}.ffn_norm", f"{H}.output.LayerNorm"),
]
IGNORED = ("pooler.*", "cls.*", "lm_predictions.*", "mask_predictions.*", "embeddings.position_ids")


FAMILY = Family(
    name="deberta_v2",
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
