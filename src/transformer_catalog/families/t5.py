"""T5 (Raffel et al., 2019) and its v1.1 / Flan / UL2 descendants: an encoder-decoder without
biases, with RMSNorm ("T5LayerNorm") before each sub-layer, a learned relative position bias per
stack instead of position embeddings, unscaled attention logits, and a ReLU (v1.0) or gated
(v1.1: GEGLU) feed-forward. v1.0 ties the output to the embedding and rescales by d_model^-0.5.
Checkpoint mapping below."""

from __future__ import annotations

from ..errors import TcatError
from ..nn.config import AttentionConfig, EmbeddingConfig, FFNConfig, ModelConfig, NormConfig, PositionConfig
from ._family import Family
from ._hf import seq2seq_layers
from ._rules import rule

HF_MODEL_TYPES = ("t5",)
HF_WRAPPER_PREFIXES: tuple[str, ...] = ()
HF_PREFIX = ""
DEFAULTS = dict(
    model_type="t5",
    vocab_size=32128,
    d_kv=64,
    relative_attention_num_buckets=32,
    relative_attention_max_distance=128,
    dropout_rate=0.1,
    layer_norm_epsilon=1e-6,
    feed_forward_proj="relu",
    tie_word_embeddings=True,
    pad_token_id=0,
    n_positions=512,
)
FFN = {"relu": ("relu", False), "gated-gelu": ("gelu_tanh", True), "gated-silu": ("silu", True)}
FFN_BACK = {v: k for k, v in FFN.items()}


layers = seq2seq_layers


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    if hf["feed_forward_proj"] not in FFN:
        raise TcatError(
            f"Hugging Face config t5: feed_forward_proj={hf['feed_forward_proj']!r} is not supported "
            f"(supported: {', '.join(FFN)})"
        )
    act, gated = FFN[hf["feed_forward_proj"]]
    tied = bool(hf["tie_word_embeddings"])
    # transformers >= 5 states the rescaling on its own; before, it went with the tied head.
    rescale = bool(hf.get("scale_decoder_outputs", tied))
    return ModelConfig(
        arch="encoder-decoder",
        d_model=hf["d_model"],
        n_encoder_layers=hf["num_layers"],
        n_decoder_layers=hf.get("num_decoder_layers") or hf["num_layers"],
        dropout=hf["dropout_rate"],
        attention=AttentionConfig(
            n_heads=hf["num_heads"], head_dim=hf["d_kv"], scale=1.0, qkv_bias=False, out_bias=False
        ),
        position=PositionConfig(
            kind="relative",
            max_len=hf["n_positions"],
            relative_buckets=hf["relative_attention_num_buckets"],
            relative_max_distance=hf["relative_attention_max_distance"],
        ),
        norm=NormConfig(kind="rmsnorm", bias=False, placement="pre", final=True, eps=hf["layer_norm_epsilon"]),
        ffn=FFNConfig(d_ff=hf["d_ff"], activation=act, gated=gated, bias=False),
        embedding=EmbeddingConfig(
            vocab_size=hf["vocab_size"],
            pad_id=hf["pad_token_id"],
            scale=False,
            share_src_tgt=True,
            tie_output=tied,
            scale_output=rescale,
        ),
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    return {
        "model_type": "t5",
        "architectures": ["T5ForConditionalGeneration"],
        "vocab_size": cfg.embedding.vocab_size,
        "d_model": cfg.d_model,
        "d_kv": cfg.head_dim,
        "d_ff": cfg.ffn.d_ff,
        "num_layers": cfg.n_encoder_layers,
        "num_decoder_layers": cfg.n_decoder_layers,
        "num_heads": cfg.attention.n_heads,
        "relative_attention_num_buckets": cfg.position.relative_buckets,
        "relative_attention_max_distance": cfg.position.relative_max_distance,
        "dropout_rate": cfg.dropout,
        "layer_norm_epsilon": cfg.norm.eps,
        "feed_forward_proj": FFN_BACK[(cfg.ffn.activation, cfg.ffn.gated)],
        "tie_word_embeddings": cfg.embedding.tie_output,
        "scale_decoder_outputs": cfg.embedding.scale_output,
        "pad_token_id": cfg.embedding.pad_id,
        "decoder_start_token_id": cfg.embedding.pad_id,
        "is_encoder_decoder": True,
    }


def _attention(ours: str, theirs: str) -> list:
    return [
        rule(f"{ours}.{a}_proj.weight" if a != "o" else f"{ours}.out_proj.weight", f"{theirs}.{a}.weight")
        for a in ("q", "k", "v", "o")
    ]


def _ffn(ours: str, theirs: str, gated: bool) -> list:
    if gated:
        return [
            rule(f"{ours}.gate.weight", f"{theirs}.wi_0.weight"),
            rule(f"{ours}.up.weight", f"{theirs}.wi_1.weight"),
            rule(f"{ours}.down.weight", f"{theirs}.wo.weight"),
        ]
    return [rule(f"{ours}.up.weight", f"{theirs}.wi.weight"), rule(f"{ours}.down.weight", f"{theirs}.wo.weight")]


def rules(cfg: ModelConfig, ffn: str = "DenseReluDense") -> list:
    """The weight map; `ffn` names the feed-forward module (Switch calls it mlp)."""
    gated = cfg.ffn.gated
    E, D = "encoder.blocks.{e}", "decoder.blocks.{d}"
    HE, HD = "encoder.block.{e}.layer", "decoder.block.{d}.layer"
    return [
        rule("src_embed.tokens.weight", "shared.weight"),
        rule("encoder.relative_bias.weight", "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"),
        rule("decoder.relative_bias.weight", "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"),
        *_attention(f"{E}.self_attn", f"{HE}.0.SelfAttention"),
        rule(f"{E}.self_attn_norm.weight", f"{HE}.0.layer_norm.weight"),
        *_ffn(f"{E}.ffn", f"{HE}.1.{ffn}", gated),
        rule(f"{E}.ffn_norm.weight", f"{HE}.1.layer_norm.weight"),
        rule("encoder.final_norm.weight", "encoder.final_layer_norm.weight"),
        *_attention(f"{D}.self_attn", f"{HD}.0.SelfAttention"),
        rule(f"{D}.self_attn_norm.weight", f"{HD}.0.layer_norm.weight"),
        *_attention(f"{D}.cross_attn", f"{HD}.1.EncDecAttention"),
        rule(f"{D}.cross_attn_norm.weight", f"{HD}.1.layer_norm.weight"),
        *_ffn(f"{D}.ffn", f"{HD}.2.{ffn}", gated),
        rule(f"{D}.ffn_norm.weight", f"{HD}.2.layer_norm.weight"),
        rule("decoder.final_norm.weight", "decoder.final_layer_norm.weight"),
        rule("head.weight", "lm_head.weight"),
    ]


IGNORED = ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight")


FAMILY = Family(
    name="t5",
    defaults=DEFAULTS,
    hf_model_types=HF_MODEL_TYPES,
    config_from_hf=config_from_hf,
    config_to_hf=config_to_hf,
    rules=rules,
    layers=layers,
    ignored=IGNORED,
    hf_prefix=HF_PREFIX,
)
