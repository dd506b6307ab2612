"""GPT-NeoX (Black et al., 2022; also Pythia): a pre-norm decoder whose attention and
feed-forward read the input in parallel, rotary positions on a quarter of each head, fused
per-head QKV, untied output projection. Checkpoint mapping below."""

from __future__ import annotations

from ..errors import TcatError
from ..nn.config import AttentionConfig, EmbeddingConfig, FFNConfig, ModelConfig, NormConfig, PositionConfig
from ._family import Family
from ._hf import ACTIVATIONS_BACK, activation, decoder_layers, unsupported
from ._rules import linear, rule

HF_MODEL_TYPES = ("gpt_neox",)
HF_WRAPPER_PREFIXES: tuple[str, ...] = ()
HF_PREFIX = "gpt_neox."
DEFAULTS = dict(
    model_type="gpt_neox",
    vocab_size=50432,
    max_position_embeddings=2048,
    hidden_act="gelu",
    layer_norm_eps=1e-5,
    use_parallel_residual=True,
    tie_word_embeddings=False,
    attention_bias=True,
    hidden_dropout=0.0,
    attention_dropout=0.0,
)


layers = decoder_layers


def _rope(hf: dict) -> tuple[float, float]:
    params = hf.get("rope_parameters") or {}
    scaling = hf.get("rope_scaling") or {}
    kind = params.get("rope_type", scaling.get("rope_type", scaling.get("type", "default")))
    if kind != "default":
        raise TcatError(f"Hugging Face config gpt_neox: rope_type={kind!r} is not supported yet")
    theta = params.get("rope_theta", hf.get("rotary_emb_base", 10000.0))
    fraction = params.get("partial_rotary_factor", hf.get("rotary_pct", 0.25))
    return float(theta), float(fraction)


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    unsupported(hf, "use_parallel_residual", (True,), True)
    theta, fraction = _rope(hf)
    bias = bool(hf["attention_bias"])
    return ModelConfig(
        arch="decoder",
        d_model=hf["hidden_size"],
        n_encoder_layers=0,
        n_decoder_layers=hf["num_hidden_layers"],
        dropout=hf["hidden_dropout"],
        parallel_residual=True,
        attention=AttentionConfig(
            n_heads=hf["num_attention_heads"], qkv_bias=bias, out_bias=bias, dropout=hf["attention_dropout"]
        ),
        position=PositionConfig(
            kind="rope", max_len=hf["max_position_embeddings"], rope_theta=theta, rotary_fraction=fraction
        ),
        norm=NormConfig(placement="pre", final=True, eps=hf["layer_norm_eps"]),
        ffn=FFNConfig(d_ff=hf["intermediate_size"], activation=activation(hf, "hidden_act")),
        embedding=EmbeddingConfig(
            vocab_size=hf["vocab_size"], pad_id=0, scale=False, tie_output=bool(hf["tie_word_embeddings"])
        ),
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    return {
        "model_type": "gpt_neox",
        "architectures": ["GPTNeoXForCausalLM"],
        "vocab_size": cfg.embedding.vocab_size,
        "hidden_size": cfg.d_model,
        "num_hidden_layers": cfg.n_decoder_layers,
        "num_attention_heads": cfg.attention.n_heads,
        "intermediate_size": cfg.ffn.d_ff,
        "hidden_act": ACTIVATIONS_BACK[cfg.ffn.activation],
        "max_position_embeddings": cfg.position.max_len,
        "rotary_pct": cfg.position.rotary_fraction,
        "rotary_emb_base": cfg.position.rope_theta,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": cfg.position.rope_theta,
            "partial_rotary_factor": cfg.position.rotary_fraction,
        },
        "layer_norm_eps": cfg.norm.eps,
        "use_parallel_residual": True,
        "attention_bias": cfg.attention.qkv_bias,
        "tie_word_embeddings": cfg.embedding.tie_output,
    }


B, H = "decoder.blocks.{i}", "gpt_neox.layers.{i}"
RULES = [
    rule("embed.tokens.weight", "gpt_neox.embed_in.weight"),
    *linear(f"{B}.self_attn_norm", f"{H}.input_layernorm"),
    *linear(f"{B}.ffn_norm", f"{H}.post_attention_layernorm"),
    rule(
        (f"{B}.self_attn.q_proj.weight", f"{B}.self_attn.k_proj.weight", f"{B}.self_attn.v_proj.weight"),
        f"{H}.attention.query_key_value.weight",
        per_head=True,
    ),
    rule(
        (f"{B}.self_attn.q_proj.bias", f"{B}.self_attn.k_proj.bias", f"{B}.self_attn.v_proj.bias"),
        f"{H}.attention.query_key_value.bias",
        per_head=True,
    ),
    *linear(f"{B}.self_attn.out_proj", f"{H}.attention.dense"),
    *linear(f"{B}.ffn.up", f"{H}.mlp.dense_h_to_4h"),
    *linear(f"{B}.ffn.down", f"{H}.mlp.dense_4h_to_h"),
    *linear("decoder.final_norm", "gpt_neox.final_layer_norm"),
    rule("head.weight", "embed_out.weight"),
]
IGNORED = (
    "gpt_neox.layers.*.attention.bias",
    "gpt_neox.layers.*.attention.masked_bias",
    "gpt_neox.layers.*.attention.rotary_emb.inv_freq",
)


FAMILY = Family(
    name="gpt_neox",
    defaults=DEFAULTS,
    hf_model_types=HF_MODEL_TYPES,
    config_from_hf=config_from_hf,
    config_to_hf=config_to_hf,
    rules=lambda cfg: RULES,
    layers=layers,
    ignored=IGNORED,
    hf_prefix=HF_PREFIX,
)
