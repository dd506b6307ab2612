"""OPT (Zhang et al., 2022): a GPT-3-like decoder — learned positions offset by 2, ReLU, pre-norm
(except the 350M model, post-norm), tied output projection. Checkpoint mapping below."""

from __future__ import annotations

from ..errors import TcatError
from ..nn.config import AttentionConfig, EmbeddingConfig, FFNConfig, ModelConfig, NormConfig, PositionConfig
from ._family import Family
from ._hf import ACTIVATIONS_BACK, activation, decoder_layers, unsupported
from ._rules import linear, rule

HF_MODEL_TYPES = ("opt",)
HF_WRAPPER_PREFIXES: tuple[str, ...] = ()
HF_PREFIX = "model."
OFFSET = 2  # OPT's position table keeps two extra rows in front (a fairseq legacy)
DEFAULTS = dict(
    model_type="opt",
    vocab_size=50272,
    max_position_embeddings=2048,
    activation_function="relu",
    do_layer_norm_before=True,
    enable_bias=True,
    layer_norm_elementwise_affine=True,
    dropout=0.1,
    attention_dropout=0.0,
    pad_token_id=1,
    tie_word_embeddings=True,
)


layers = decoder_layers


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    d = hf["hidden_size"]
    unsupported(hf, "word_embed_proj_dim", (d, None), d)  # OPT-350M's projections: not yet
    unsupported(hf, "_remove_final_layer_norm", (False,), False)
    unsupported(hf, "layer_norm_elementwise_affine", (True,), True)
    pre = bool(hf["do_layer_norm_before"])
    bias = bool(hf["enable_bias"])
    return ModelConfig(
        arch="decoder",
        d_model=d,
        n_encoder_layers=0,
        n_decoder_layers=hf["num_hidden_layers"],
        dropout=hf["dropout"],
        attention=AttentionConfig(
            n_heads=hf["num_attention_heads"], qkv_bias=bias, out_bias=bias, dropout=hf["attention_dropout"]
        ),
        # OPT derives positions from the attention mask (cumsum - 1 + 2): left padding does not shift them
        position=PositionConfig(
            kind="learned", max_len=hf["max_position_embeddings"], offset=OFFSET, numbering="real_tokens"
        ),
        norm=NormConfig(placement="pre" if pre else "post", final=pre),
        ffn=FFNConfig(d_ff=hf["ffn_dim"], activation=activation(hf, "activation_function"), bias=bias),
        embedding=EmbeddingConfig(
            vocab_size=hf["vocab_size"],
            pad_id=hf["pad_token_id"],
            scale=False,
            tie_output=bool(hf["tie_word_embeddings"]),
        ),
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    p = cfg.position
    if (p.kind, p.offset, p.numbering) != ("learned", OFFSET, "real_tokens"):
        raise TcatError(
            f"export as opt: OPT numbers learned positions by real tokens from row {OFFSET}; this model "
            f"has {p.kind} positions numbered {p.numbering!r} from row {p.offset}"
        )
    return {
        "model_type": "opt",
        "architectures": ["OPTForCausalLM"],
        "vocab_size": cfg.embedding.vocab_size,
        "hidden_size": cfg.d_model,
        "word_embed_proj_dim": cfg.d_model,
        "ffn_dim": cfg.ffn.d_ff,
        "num_hidden_layers": cfg.n_decoder_layers,
        "num_attention_heads": cfg.attention.n_heads,
        "max_position_embeddings": cfg.position.max_len,
        "activation_function": ACTIVATIONS_BACK[cfg.ffn.activation],
        "do_layer_norm_before": cfg.norm.placement == "pre",
        "enable_bias": cfg.attention.qkv_bias,
        "dropout": cfg.dropout,
        "attention_dropout": cfg.attention.dropout,
        "pad_token_id": cfg.embedding.pad_id,
        "tie_word_embeddings": cfg.embedding.tie_output,
    }


B, H = "decoder.blocks.{i}", "model.decoder.layers.{i}"
RULES = [
    rule("embed.tokens.weight", "model.decoder.embed_tokens.weight"),
    rule("embed.positions.weight", "model.decoder.embed_positions.weight"),
    *linear(f"{B}.self_attn.q_proj", f"{H}.self_attn.q_proj"),
    *linear(f"{B}.self_attn.k_proj", f"{H}.self_attn.k_proj"),
    *linear(f"{B}.self_attn.v_proj", f"{H}.self_attn.v_proj"),
    *linear(f"{B}.self_attn.out_proj", f"{H}.self_attn.out_proj"),
    *linear(f"{B}.self_attn_norm", f"{H}.self_attn_layer_norm"),
    *linear(f"{B}.ffn.up", f"{H}.fc1"),
    *linear(f"{B}.ffn.down", f"{H}.fc2"),
    *linear(f"{B}.ffn_norm", f"{H}.final_layer_norm"),
    *linear("decoder.final_norm", "model.decoder.final_layer_norm"),
    rule("head.weight", "lm_head.weight"),
]
IGNORED = ("lm_head.weight",)


FAMILY = Family(
    name="opt",
    defaults=DEFAULTS,
    hf_model_types=HF_MODEL_TYPES,
    config_from_hf=config_from_hf,
    config_to_hf=config_to_hf,
    rules=lambda cfg: RULES,
    layers=layers,
    ignored=IGNORED,
    hf_prefix=HF_PREFIX,
)
