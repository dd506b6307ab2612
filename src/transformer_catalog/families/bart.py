"""BART (Lewis et al., 2019), mBART (Liu et al., 2020) and Pegasus (Zhang et al., 2019): the paper's
encoder-decoder with shared embeddings tied to the output. BART: post-norm, learned positions
(offset by 2), a LayerNorm on each embedding sum, GELU. mBART: the same, pre-norm with final norms.
Pegasus: pre-norm with final norms, sinusoidal positions (sines then cosines), no embedding norm.
Checkpoint mapping below."""

from __future__ import annotations

from ..errors import TcatError
from ..nn.config import AttentionConfig, EmbeddingConfig, FFNConfig, ModelConfig, NormConfig, PositionConfig
from ._family import Family
from ._hf import ACTIVATIONS_BACK, activation, require_zero, seq2seq_layers
from ._rules import linear, rule

HF_MODEL_TYPES = ("bart", "mbart", "pegasus")
HF_WRAPPER_PREFIXES: tuple[str, ...] = ()
HF_PREFIX = "model."
OFFSET = 2
DEFAULTS = dict(
    model_type="bart",
    vocab_size=50265,
    max_position_embeddings=1024,
    activation_function="gelu",
    dropout=0.1,
    attention_dropout=0.0,
    pad_token_id=1,
    scale_embedding=False,
    tie_word_embeddings=True,
)


layers = seq2seq_layers


def check(tensors: dict, where: str) -> None:
    require_zero(tensors, "final_logits_bias", where)  # a per-token logit bias; zero in released models


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    for a, b in (("encoder_attention_heads", "decoder_attention_heads"), ("encoder_ffn_dim", "decoder_ffn_dim")):
        if hf[a] != hf[b]:
            raise TcatError(f"Hugging Face config {hf['model_type']}: {a} != {b} is not supported")
    kind = hf["model_type"]
    pre = kind in ("mbart", "pegasus")  # these architectures normalise before each sub-layer
    if kind == "pegasus":
        position = PositionConfig(kind="sinusoidal", max_len=hf["max_position_embeddings"], sinusoidal_layout="halves")
    else:
        position = PositionConfig(kind="learned", max_len=hf["max_position_embeddings"], offset=OFFSET)
    return ModelConfig(
        arch="encoder-decoder",
        d_model=hf["d_model"],
        n_encoder_layers=hf["encoder_layers"],
        n_decoder_layers=hf["decoder_layers"],
        dropout=hf["dropout"],
        attention=AttentionConfig(n_heads=hf["encoder_attention_heads"], dropout=hf["attention_dropout"]),
        position=position,
        norm=NormConfig(placement="pre" if pre else "post", final=pre),
        ffn=FFNConfig(d_ff=hf["encoder_ffn_dim"], activation=activation(hf, "activation_function")),
        # tie_word_embeddings ties all three tables of transformers' model (encoder, decoder, lm head)
        # to `shared`; without it each is its own table (`shared` is then unused)
        embedding=EmbeddingConfig(
            vocab_size=hf["vocab_size"],
            pad_id=hf["pad_token_id"],
            scale=bool(hf["scale_embedding"]),
            share_src_tgt=bool(hf["tie_word_embeddings"]),
            tie_output=bool(hf["tie_word_embeddings"]),
            norm=kind != "pegasus",
        ),
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    if (cfg.norm.placement == "pre") != (model_type in ("mbart", "pegasus")):
        raise TcatError(f"a {cfg.norm.placement}-norm model cannot be exported as {model_type}")
    e = cfg.embedding
    if e.tie_output and not e.share_src_tgt:
        raise TcatError(
            f"export as {model_type}: transformers ties the output to one table shared by encoder and "
            "decoder; this model ties it to a decoder table of its own"
        )
    return {
        "model_type": model_type,
        "architectures": [
            {
                "bart": "BartForConditionalGeneration",
                "mbart": "MBartForConditionalGeneration",
                "pegasus": "PegasusForConditionalGeneration",
            }[model_type]
        ],
        "vocab_size": cfg.embedding.vocab_size,
        "d_model": cfg.d_model,
        "encoder_layers": cfg.n_encoder_layers,
        "decoder_layers": cfg.n_decoder_layers,
        "encoder_attention_heads": cfg.attention.n_heads,
        "decoder_attention_heads": cfg.attention.n_heads,
        "encoder_ffn_dim": cfg.ffn.d_ff,
        "decoder_ffn_dim": cfg.ffn.d_ff,
        "activation_function": ACTIVATIONS_BACK[cfg.ffn.activation],
        "max_position_embeddings": cfg.position.max_len,
        "dropout": cfg.dropout,
        "attention_dropout": cfg.attention.dropout,
        "pad_token_id": cfg.embedding.pad_id,
        "scale_embedding": cfg.embedding.scale,
        "tie_word_embeddings": cfg.embedding.tie_output,
    }


def _block(ours: str, theirs: str, cross: bool) -> list:
    rules = [
        *linear(f"{ours}.self_attn.q_proj", f"{theirs}.self_attn.q_proj"),
        *linear(f"{ours}.self_attn.k_proj", f"{theirs}.self_attn.k_proj"),
        *linear(f"{ours}.self_attn.v_proj", f"{theirs}.self_attn.v_proj"),
        *linear(f"{ours}.self_attn.out_proj", f"{theirs}.self_attn.out_proj"),
        *linear(f"{ours}.self_attn_norm", f"{theirs}.self_attn_layer_norm"),
        *linear(f"{ours}.ffn.up", f"{theirs}.fc1"),
        *linear(f"{ours}.ffn.down", f"{theirs}.fc2"),
        *linear(f"{ours}.ffn_norm", f"{theirs}.final_layer_norm"),
    ]
    if cross:
        rules += [
            *linear(f"{ours}.cross_attn.q_proj", f"{theirs}.encoder_attn.q_proj"),
            *linear(f"{ours}.cross_attn.k_proj", f"{theirs}.encoder_attn.k_proj"),
            *linear(f"{ours}.cross_attn.v_proj", f"{theirs}.encoder_attn.v_proj"),
            *linear(f"{ours}.cross_attn.out_proj", f"{theirs}.encoder_attn.out_proj"),
            *linear(f"{ours}.cross_attn_norm", f"{theirs}.encoder_attn_layer_norm"),
        ]
    return rules


def rules(cfg: ModelConfig) -> list:
    """Tied: one table (model.shared). Untied: the encoder's, the decoder's and the head's own."""
    if cfg.embedding.tie_output:
        return [rule("src_embed.tokens.weight", "model.shared.weight"), *RULES]
    return [
        rule("src_embed.tokens.weight", "model.encoder.embed_tokens.weight"),
        rule("tgt_embed.tokens.weight", "model.decoder.embed_tokens.weight"),
        *RULES,
    ]


def unpack(tensors: dict, cfg: ModelConfig) -> dict:
    """Untied export: transformers also keeps `shared` (used by neither stack then: a copy of the
    encoder's table); a model whose stacks share one table but not the head writes it for both."""
    if cfg.embedding.tie_output:
        return tensors
    enc = tensors["model.encoder.embed_tokens.weight"]
    if "model.decoder.embed_tokens.weight" not in tensors:
        tensors["model.decoder.embed_tokens.weight"] = enc.clone()  # safetensors refuses shared storage
    return {**tensors, "model.shared.weight": enc.clone()}


RULES = [
    rule("src_embed.positions.weight", "model.encoder.embed_positions.weight"),
    *linear("src_embed.norm", "model.encoder.layernorm_embedding"),
    rule("tgt_embed.positions.weight", "model.decoder.embed_positions.weight"),
    *linear("tgt_embed.norm", "model.decoder.layernorm_embedding"),
    *_block("encoder.blocks.{e}", "model.encoder.layers.{e}", cross=False),
    *_block("decoder.blocks.{d}", "model.decoder.layers.{d}", cross=True),
    *linear("encoder.final_norm", "model.encoder.layer_norm"),  # mBART only
    *linear("decoder.final_norm", "model.decoder.layer_norm"),
    rule("head.weight", "lm_head.weight"),
]
# Copies of the shared table that tied checkpoints may also store under these names (untied: `shared`,
# which neither stack reads); Pegasus's fixed sinusoids.
IGNORED = (
    "model.shared.weight",
    "model.encoder.embed_tokens.weight",
    "model.decoder.embed_tokens.weight",
    "lm_head.weight",
    "final_logits_bias",
    "model.encoder.embed_positions.weight",
    "model.decoder.embed_positions.weight",
)


FAMILY = Family(
    name="bart",
    defaults=DEFAULTS,
    hf_model_types=HF_MODEL_TYPES,
    config_from_hf=config_from_hf,
    config_to_hf=config_to_hf,
    rules=rules,
    layers=layers,
    ignored=IGNORED,
    hf_prefix=HF_PREFIX,
    check=check,
    unpack=unpack,
)
