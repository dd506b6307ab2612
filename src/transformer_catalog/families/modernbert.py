"""ModernBERT (Warner et al., 2024): a pre-norm encoder with rotary positions, GeGLU feed-forward, no
biases, LayerNorm after the token embedding (and so none before the first block's attention), a
final norm, and alternating attention: every third layer global, the others a local window of
`local_attention` tokens (half on each side), each kind with its own RoPE base. Checkpoints fuse
[q; k; v] into Wqkv and [input; gate] into Wi. transformers runs it padded with masks (its unpadded
path needs flash-attention); tcat does the same, so padding never reaches real tokens."""

from __future__ import annotations

from ..nn.config import AttentionConfig, EmbeddingConfig, FFNConfig, ModelConfig, NormConfig, PositionConfig
from ._decoder import LAYER_TYPES, fail, period
from ._family import Family
from ._hf import ACTIVATIONS_BACK, activation, encoder_layers
from ._rules import linear, rule

HF_MODEL_TYPES = ("modernbert",)
HF_WRAPPER_PREFIXES = ("model.",)  # ModernBertForMaskedLM and the classifiers keep the encoder here
DEFAULTS = dict(
    model_type="modernbert",
    hidden_activation="gelu",
    norm_eps=1e-5,
    norm_bias=False,
    attention_bias=False,
    mlp_bias=False,
    local_attention=128,
    max_position_embeddings=8192,
    pad_token_id=50283,
)


def _thetas(hf: dict) -> tuple[float, float]:
    """(global, local) RoPE bases; both kinds must be unscaled."""
    params = hf.get("rope_parameters") or {}
    full = params.get("full_attention") or {"rope_theta": hf.get("global_rope_theta", 160_000.0)}
    local = params.get("sliding_attention") or {"rope_theta": hf.get("local_rope_theta", 10_000.0)}
    for key, p in (("full_attention", full), ("sliding_attention", local)):
        if p.get("rope_type", "default") != "default":
            raise fail(hf, f"rope_parameters.{key}.rope_type", p["rope_type"])
    return float(full.get("rope_theta", 160_000.0)), float(local.get("rope_theta", 10_000.0))


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    n = hf["num_hidden_layers"]
    every = int(hf.get("global_attn_every_n_layers", 3))
    types = hf.get("layer_types") or ["sliding_attention" if i % every else "full_attention" for i in range(n)]
    if len(types) != n or set(types) - set(LAYER_TYPES):
        raise fail(hf, "layer_types", types, f"must hold {n} entries of {', '.join(LAYER_TYPES)}")
    flags = "".join(LAYER_TYPES[t] for t in types)
    global_theta, local_theta = _thetas(hf)
    norm_bias = bool(hf["norm_bias"])
    attention_bias = bool(hf["attention_bias"])
    return ModelConfig(
        arch="encoder",
        d_model=hf["hidden_size"],
        n_encoder_layers=n,
        n_decoder_layers=0,
        dropout=0.0,
        attention=AttentionConfig(
            n_heads=hf["num_attention_heads"],
            qkv_bias=attention_bias,
            out_bias=attention_bias,
            dropout=float(hf.get("attention_dropout") or 0.0),
            window=int(hf["local_attention"]) if "L" in flags else None,
            window_pattern=period(flags) if "L" in flags else "L",
        ),
        position=PositionConfig(
            kind="rope",
            max_len=hf["max_position_embeddings"],
            rope_theta=global_theta,
            rope_local_theta=None if local_theta == global_theta else local_theta,
        ),
        norm=NormConfig(
            kind="layernorm", bias=norm_bias, placement="pre", final=True, eps=hf["norm_eps"], first_attn_norm=False
        ),
        ffn=FFNConfig(
            d_ff=hf["intermediate_size"],
            activation=activation(hf, "hidden_activation"),
            gated=True,
            bias=bool(hf["mlp_bias"]),
        ),
        embedding=EmbeddingConfig(
            vocab_size=hf["vocab_size"], pad_id=hf["pad_token_id"], scale=False, norm=True, tie_output=True
        ),
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    from ._decoder import check_roundtrip

    a, p = cfg.attention, cfg.position
    local = "L" in a.window_pattern and a.window is not None
    back = {v: k for k, v in LAYER_TYPES.items()}
    hf = {
        "model_type": model_type,
        "architectures": ["ModernBertModel"],
        "vocab_size": cfg.embedding.vocab_size,
        "hidden_size": cfg.d_model,
        "intermediate_size": cfg.ffn.d_ff,
        "num_hidden_layers": cfg.n_encoder_layers,
        "num_attention_heads": a.n_heads,
        "hidden_activation": ACTIVATIONS_BACK.get(cfg.ffn.activation, cfg.ffn.activation),
        "max_position_embeddings": p.max_len,
        "norm_eps": cfg.norm.eps,
        "norm_bias": cfg.norm.bias,
        "attention_bias": a.qkv_bias,
        "mlp_bias": cfg.ffn.bias,
        "attention_dropout": a.dropout,
        "local_attention": a.window if local else p.max_len,
        "layer_types": [back["L" if cfg.local_at(i) else "G"] for i in range(cfg.n_encoder_layers)],
        "rope_parameters": {
            "full_attention": {"rope_type": "default", "rope_theta": p.rope_theta},
            "sliding_attention": {"rope_type": "default", "rope_theta": p.rope_local_theta or p.rope_theta},
        },
        "pad_token_id": cfg.embedding.pad_id,
    }
    return check_roundtrip(cfg, hf, config_from_hf)


B, H = "encoder.blocks.{i}", "layers.{i}"
RULES = [
    rule("embed.tokens.weight", "embeddings.tok_embeddings.weight"),
    *linear("embed.norm", "embeddings.norm"),
    rule(
        (f"{B}.self_attn.q_proj.weight", f"{B}.self_attn.k_proj.weight", f"{B}.self_attn.v_proj.weight"),
        f"{H}.attn.Wqkv.weight",
    ),
    rule(
        (f"{B}.self_attn.q_proj.bias", f"{B}.self_attn.k_proj.bias", f"{B}.self_attn.v_proj.bias"),
        f"{H}.attn.Wqkv.bias",
    ),
    *linear(f"{B}.self_attn.out_proj", f"{H}.attn.Wo"),
    *linear(f"{B}.self_attn_norm", f"{H}.attn_norm"),  # absent in layer 0: the rule is skipped there
    rule((f"{B}.ffn.gate.weight", f"{B}.ffn.up.weight"), f"{H}.mlp.Wi.weight"),  # act(input) * gate
    rule((f"{B}.ffn.gate.bias", f"{B}.ffn.up.bias"), f"{H}.mlp.Wi.bias"),
    *linear(f"{B}.ffn.down", f"{H}.mlp.Wo"),
    *linear(f"{B}.ffn_norm", f"{H}.mlp_norm"),
    *linear("encoder.final_norm", "final_norm"),
]
# the masked-LM head and task classifiers: tcat loads the encoder (as BERT's converter does)
IGNORED = ("head.*", "decoder.*", "classifier.*")


FAMILY = Family(
    name="modernbert",
    defaults=DEFAULTS,
    hf_model_types=HF_MODEL_TYPES,
    config_from_hf=config_from_hf,
    config_to_hf=config_to_hf,
    rules=lambda cfg: RULES,
    layers=encoder_layers,
    ignored=IGNORED,
    hf_wrapper_prefixes=HF_WRAPPER_PREFIXES,
)
