"""BERT (Devlin et al., 2018): a post-norm encoder with learned positions, segment (token type)
embeddings, a LayerNorm on the embedding sum and exact GELU. RoBERTa and XLM-R keep the layout
and number positions from pad_id + 1. Checkpoint mapping below; the pooler and the pretraining
heads (cls.*, lm_head.*) are not converted. ELECTRA's discriminator is BERT with, when its
embeddings are narrower than the hidden width, a projection between them."""

from __future__ import annotations

from ..errors import TcatError
from ..nn.config import AttentionConfig, EmbeddingConfig, FFNConfig, ModelConfig, NormConfig, PositionConfig
from ._family import Family
from ._hf import ACTIVATIONS_BACK, activation, encoder_layers, unsupported
from ._rules import linear, rule

HF_MODEL_TYPES = ("bert", "roberta", "xlm-roberta", "electra")
HF_WRAPPER_PREFIXES = ("bert.", "roberta.", "electra.")
HF_PREFIX = ""

# BERT's published sizes (base, large) live in the catalog; `bert-base` / `bert-large` resolve
# there through catalog/specs.py.
CONFIGS: dict[str, dict] = {}
DEFAULTS = dict(
    model_type="bert",
    vocab_size=30522,
    max_position_embeddings=512,
    type_vocab_size=2,
    hidden_act="gelu",
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
    layer_norm_eps=1e-12,
    pad_token_id=0,
    position_embedding_type="absolute",
)


layers = encoder_layers


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    unsupported(hf, "position_embedding_type", ("absolute",), "absolute")
    unsupported(hf, "is_decoder", (False,), False)
    # RoBERTa numbers positions from pad_id + 1 (rows 0..pad_id of its table are never used) and
    # counts real tokens only (padding_idx + cumsum of the non-pad mask), so left padding does not
    # shift them.
    roberta = hf["model_type"] in ("roberta", "xlm-roberta")
    offset = hf["pad_token_id"] + 1 if roberta else 0
    return ModelConfig(
        arch="encoder",
        d_model=hf["hidden_size"],
        n_encoder_layers=hf["num_hidden_layers"],
        n_decoder_layers=0,
        dropout=hf["hidden_dropout_prob"],
        attention=AttentionConfig(n_heads=hf["num_attention_heads"], dropout=hf["attention_probs_dropout_prob"]),
        position=PositionConfig(
            kind="learned",
            max_len=hf["max_position_embeddings"] - offset,
            offset=offset,
            numbering="real_tokens" if roberta else "index",
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
            d_embed=hf.get("embedding_size") if hf["model_type"] == "electra" else None,
        ),
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    # transformers numbers BERT/ELECTRA positions by index and RoBERTa/XLM-R positions by real tokens
    # from pad_id + 1: a model numbered otherwise would give other outputs on padded batches there.
    roberta = model_type in ("roberta", "xlm-roberta")
    p = cfg.position
    want = ("real_tokens", cfg.embedding.pad_id + 1) if roberta else ("index", 0)
    if (p.numbering, p.offset) != want:
        raise TcatError(
            f"export as {model_type}: positions numbered {p.numbering!r} from row {p.offset}; "
            f"{model_type} numbers them {want[0]!r} from row {want[1]}"
        )
    return {
        "model_type": model_type,
        "architectures": [
            {
                "bert": "BertModel",
                "roberta": "RobertaModel",
                "xlm-roberta": "XLMRobertaModel",
                "electra": "ElectraModel",
            }[model_type]
        ],
        **({"embedding_size": cfg.embedding.d_embed or cfg.d_model} if model_type == "electra" else {}),
        "vocab_size": cfg.embedding.vocab_size,
        "hidden_size": cfg.d_model,
        "num_hidden_layers": cfg.n_encoder_layers,
        "num_attention_heads": cfg.attention.n_heads,
        "intermediate_size": cfg.ffn.d_ff,
        "hidden_act": ACTIVATIONS_BACK[cfg.ffn.activation],
        "hidden_dropout_prob": cfg.dropout,
        "attention_probs_dropout_prob": cfg.attention.dropout,
        "max_position_embeddings": cfg.position.max_len + cfg.position.offset,
        "type_vocab_size": cfg.embedding.n_token_types,
        "layer_norm_eps": cfg.norm.eps,
        "pad_token_id": cfg.embedding.pad_id,
        "add_pooling_layer": False,
    }


B, H = "encoder.blocks.{i}", "encoder.layer.{i}"
RULES = [
    rule("embed.tokens.weight", "embeddings.word_embeddings.weight"),
    rule("embed.positions.weight", "embeddings.position_embeddings.weight"),
    rule("embed.token_types.weight", "embeddings.token_type_embeddings.weight"),
    *linear("embed.norm", "embeddings.LayerNorm"),
    *linear("embed.project", "embeddings_project"),  # ELECTRA with narrow embeddings
    *linear(f"{B}.self_attn.q_proj", f"{H}.attention.self.query"),
    *linear(f"{B}.self_attn.k_proj", f"{H}.attention.self.key"),
    *linear(f"{B}.self_attn.v_proj", f"{H}.attention.self.value"),
    *linear(f"{B}.self_attn.out_proj", f"{H}.attention.output.dense"),
    *linear(f"{B}.self_attn_norm", f"{H}.attention.output.LayerNorm"),
    *linear(f"{B}.ffn.up", f"{H}.intermediate.dense"),
    *linear(f"{B}.ffn.down", f"{H}.output.dense"),
    *linear(f"{B}.ffn_norm", f"{H}.output.LayerNorm"),
]
IGNORED = (
    "pooler.*",
    "cls.*",
    "lm_head.*",
    "discriminator_predictions.*",
    "embeddings.position_ids",
    "embeddings.token_type_ids",
)


FAMILY = Family(
    name="bert",
    configs=CONFIGS,
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
