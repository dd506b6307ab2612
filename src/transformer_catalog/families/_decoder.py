"""What the decoders laid out like LLaMA share (Qwen2/3, Gemma 1/2/3, Phi-3, OLMo 2, SmolLM3): their
Hugging Face config vocabulary, per-layer patterns from `layer_types`, weight-name rules that follow
the config (biases, q/k norms, sandwich or reordered norms, fused projections), and the export check
that refuses a model the target architecture would read back differently.

A family module states only where it departs from this: its own fields (Gemma's soft-capping, Phi-3's
fused projections...) and which of our config fields its Hugging Face config cannot express.
"""

from __future__ import annotations

from ..errors import TcatError
from ..nn.config import AttentionConfig, EmbeddingConfig, FFNConfig, ModelConfig, NormConfig, PositionConfig
from ._family import Family
from ._hf import ACTIVATIONS_BACK, activation, decoder_layers
from ._rules import Rule, linear, rule

LAYER_TYPES = {"full_attention": "G", "sliding_attention": "L"}


def fail(hf: dict, key: str, value, why: str = "is not supported") -> TcatError:
    return TcatError(f"Hugging Face config {hf.get('model_type')}: {key}={value!r} {why}")


def period(flags: str) -> str:
    """The shortest pattern that, repeated over the layers, gives `flags` (window_pattern, rope_layers)."""
    for p in range(1, len(flags) + 1):
        if all(flags[i] == flags[i % p] for i in range(len(flags))):
            return flags[:p]
    return flags


def expand(pattern: str, n: int) -> str:
    return "".join(pattern[i % len(pattern)] for i in range(n))


def window_from_layer_types(hf: dict, n: int, window: int | None) -> tuple[int | None, str]:
    """(attention.window, attention.window_pattern) from Hugging Face's per-layer `layer_types`."""
    types = hf.get("layer_types") or ["full_attention"] * n
    bad = next((t for t in types if t not in LAYER_TYPES), None)
    if bad is not None:
        raise fail(hf, "layer_types", bad, f"is not supported (supported: {', '.join(LAYER_TYPES)})")
    if len(types) != n:
        raise fail(hf, "layer_types", f"{len(types)} entries", f"!= num_hidden_layers={n}")
    flags = "".join(LAYER_TYPES[t] for t in types)
    if "L" not in flags:
        return None, "L"
    if not window:
        raise fail(hf, "sliding_window", window, "must be set where layer_types has sliding layers")
    return int(window), period(flags)


def layer_types(cfg: ModelConfig) -> list[str]:
    back = {v: k for k, v in LAYER_TYPES.items()}
    n = cfg.n_decoder_layers
    return [back["L" if cfg.local_at(i) else "G"] for i in range(n)]


def head_dim(hf: dict) -> int | None:
    """attention.head_dim: None where it is hidden_size / num_attention_heads."""
    d, heads, hd = hf["hidden_size"], hf["num_attention_heads"], hf.get("head_dim")
    return None if hd is None or (d % heads == 0 and hd == d // heads) else int(hd)


def rope(hf: dict, max_len: int) -> PositionConfig:
    """RoPE from rope_parameters / rope_theta / rope_scaling, as LLaMA's converter reads them."""
    from .llama import _rope

    return _rope(hf, max_len)


def rope_to_hf(cfg: ModelConfig) -> dict:
    from .llama import _rope_to_hf

    p = cfg.position
    out = {"rope_theta": p.rope_theta, "rope_parameters": {"rope_type": "default", "rope_theta": p.rope_theta}}
    return {**out, **_rope_to_hf(p, int(cfg.head_dim * p.rotary_fraction))}


def per_type_rope(hf: dict, global_theta: float, local_theta: float) -> tuple[dict, float | None]:
    """RoPE keyed by layer type (Gemma 3, OLMo 3): (the global layers' rope dict, the local layers'
    theta, or None where they rotate exactly as the global ones). Older flat configs: rope_theta and
    rope_scaling for the global layers, the given local theta for the others."""
    params = hf.get("rope_parameters") or {}
    if "full_attention" in params or "sliding_attention" in params:
        full = dict(params.get("full_attention") or {"rope_type": "default"})
        local = dict(params.get("sliding_attention") or {"rope_type": "default"})
    else:
        full = {"rope_type": "default", **(hf.get("rope_scaling") or {}), **params}
        full.setdefault("rope_theta", hf.get("rope_theta", global_theta))
        local = {"rope_type": "default", "rope_theta": local_theta}
    full.setdefault("rope_theta", global_theta)
    local.setdefault("rope_theta", local_theta)
    if local.get("rope_type", "default") != "default":
        raise fail(hf, "rope_parameters.sliding_attention.rope_type", local["rope_type"])
    same = full.get("rope_type", "default") == "default" and float(full["rope_theta"]) == float(local["rope_theta"])
    return full, None if same else float(local["rope_theta"])


def per_type_rope_to_hf(cfg: ModelConfig, hf: dict) -> None:
    """rope_parameters keyed by layer type, in place of the flat keys decoder_to_hf wrote."""
    full = hf.pop("rope_parameters")
    hf.pop("rope_scaling", None)
    local = cfg.position.rope_local_theta
    hf["rope_parameters"] = {
        "full_attention": full,
        "sliding_attention": {"rope_type": "default", "rope_theta": local} if local is not None else dict(full),
    }


def hf_biases(hf: dict, mlp: bool = False) -> dict:
    """decoder_config's bias arguments from transformers' one `attention_bias` for the q, k, v and o
    projections and, where the family's config has one (`mlp`), `mlp_bias` for the feed-forward."""
    bias = bool(hf.get("attention_bias", False))
    return dict(qkv_bias=bias, out_bias=bias, **({"ffn_bias": bool(hf.get("mlp_bias", False))} if mlp else {}))


def decoder_config(
    hf: dict,
    *,
    act_key: str = "hidden_act",
    qkv_bias: bool = False,
    out_bias: bool = False,
    ffn_bias: bool = False,
    position: PositionConfig | None = None,
    attention: dict | None = None,
    norm: dict | None = None,
    embedding: dict | None = None,
) -> ModelConfig:
    """The ModelConfig of a LLaMA-layout decoder: pre-norm RMSNorm, gated feed-forward, rotary
    positions, per-layer windows from layer_types; the keyword dicts override sub-config fields."""
    n = hf["num_hidden_layers"]
    max_len = hf["max_position_embeddings"]
    window, pattern = window_from_layer_types(hf, n, hf.get("sliding_window"))
    heads = hf["num_attention_heads"]
    return ModelConfig(
        arch="decoder",
        d_model=hf["hidden_size"],
        n_encoder_layers=0,
        n_decoder_layers=n,
        dropout=0.0,
        attention=AttentionConfig(
            **{
                "n_heads": heads,
                "n_kv_heads": hf.get("num_key_value_heads") or heads,
                "head_dim": head_dim(hf),
                "qkv_bias": qkv_bias,
                "out_bias": out_bias,
                "dropout": float(hf.get("attention_dropout") or 0.0),
                "window": window,
                "window_pattern": pattern,
                **(attention or {}),
            }
        ),
        position=position if position is not None else rope(hf, max_len),
        norm=NormConfig(
            **{
                "kind": "rmsnorm",
                "bias": False,
                "placement": "pre",
                "final": True,
                "eps": float(hf.get("rms_norm_eps", 1e-6)),
                **(norm or {}),
            }
        ),
        ffn=FFNConfig(d_ff=hf["intermediate_size"], activation=activation(hf, act_key), gated=True, bias=ffn_bias),
        embedding=EmbeddingConfig(
            **{
                "vocab_size": hf["vocab_size"],
                "pad_id": hf.get("pad_token_id") or 0,
                "scale": False,
                "tie_output": bool(hf.get("tie_word_embeddings", False)),
                **(embedding or {}),
            }
        ),
    )


def decoder_to_hf(cfg: ModelConfig, model_type: str, architecture: str, act_key: str = "hidden_act") -> dict:
    """The config.json keys every LLaMA-layout decoder shares; families add their own."""
    a = cfg.attention
    out = {
        "model_type": model_type,
        "architectures": [architecture],
        "vocab_size": cfg.embedding.vocab_size,
        "hidden_size": cfg.d_model,
        "intermediate_size": cfg.ffn.d_ff,
        "num_hidden_layers": cfg.n_decoder_layers,
        "num_attention_heads": a.n_heads,
        "num_key_value_heads": cfg.n_kv_heads,
        "head_dim": cfg.head_dim,
        "max_position_embeddings": cfg.position.max_len,
        "rms_norm_eps": cfg.norm.eps,
        act_key: ACTIVATIONS_BACK.get(cfg.ffn.activation, cfg.ffn.activation),
        "tie_word_embeddings": cfg.embedding.tie_output,
        "pad_token_id": cfg.embedding.pad_id,
        "attention_dropout": a.dropout,
        "layer_types": layer_types(cfg),
        "sliding_window": a.window,
    }
    if cfg.position.kind == "rope":
        rope_keys = rope_to_hf(cfg)
        out |= rope_keys  # may set max_position_embeddings (dynamic scaling keeps the original length)
    return out


# Fields that change training, not the function a model computes: a model differing only here exports.
_NOT_THE_MODEL = {"dropout", "attention.dropout", "attention.backend"}


def _flat(node: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in node.items():
        out |= _flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k: v}
    return out


def _same(a, b) -> bool:
    """Equal, floats up to round-off (a logit scale goes out as query_pre_attn_scalar and back)."""
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-9 * max(abs(a), abs(b))
    return a == b


def check_roundtrip(cfg: ModelConfig, hf: dict, config_from_hf) -> dict:
    """Refuse an export the target architecture would read back as a different model: the first
    field that differs is named, with both values."""
    back = _flat(config_from_hf(hf).to_dict())
    ours = _flat(cfg.to_dict())
    for key, value in ours.items():
        if key not in _NOT_THE_MODEL and not _same(back.get(key), value):
            raise TcatError(
                f"export as {hf['model_type']}: {key}={value!r} cannot be expressed "
                f"(its config would read back {back.get(key)!r})"
            )
    return hf


B, H = "decoder.blocks.{i}", "model.layers.{i}"

# our norm modules -> Hugging Face names, by norm.placement
NORMS = {
    "pre": {"self_attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm"},
    "sandwich": {
        "self_attn_norm": "input_layernorm",
        "post_attn_norm": "post_attention_layernorm",
        "ffn_norm": "pre_feedforward_layernorm",
        "post_ffn_norm": "post_feedforward_layernorm",
    },
    "sublayer_output": {"self_attn_norm": "post_attention_layernorm", "ffn_norm": "post_feedforward_layernorm"},
}


def decoder_rules(cfg: ModelConfig, fused_qkv: str | None = None, fused_gate_up: str | None = None) -> list[Rule]:
    """Weight-name rules of a LLaMA-layout checkpoint for this config. `fused_qkv` / `fused_gate_up`:
    Hugging Face names of one tensor holding [q; k; v] or [gate; up] along the output (Phi-3)."""
    attn, mlp = f"{B}.self_attn", f"{B}.ffn"
    if fused_qkv:
        qkv = [
            rule(tuple(f"{attn}.{p}_proj.{w}" for p in "qkv"), f"{H}.self_attn.{fused_qkv}.{w}")
            for w in ("weight", "bias")
        ]
    else:
        qkv = [r for p in "qkv" for r in linear(f"{attn}.{p}_proj", f"{H}.self_attn.{p}_proj")]
    if fused_gate_up:
        gate_up = [
            rule((f"{mlp}.gate.{w}", f"{mlp}.up.{w}"), f"{H}.mlp.{fused_gate_up}.{w}") for w in ("weight", "bias")
        ]
    else:
        gate_up = [*linear(f"{mlp}.gate", f"{H}.mlp.gate_proj"), *linear(f"{mlp}.up", f"{H}.mlp.up_proj")]
    norms = NORMS.get(cfg.norm.placement, {})
    return [
        rule("embed.tokens.weight", "model.embed_tokens.weight"),
        *qkv,
        *linear(f"{attn}.out_proj", f"{H}.self_attn.o_proj"),
        rule(f"{attn}.q_norm.weight", f"{H}.self_attn.q_norm.weight"),
        rule(f"{attn}.k_norm.weight", f"{H}.self_attn.k_norm.weight"),
        *gate_up,
        *linear(f"{mlp}.down", f"{H}.mlp.down_proj"),
        *(r for ours, theirs in norms.items() for r in linear(f"{B}.{ours}", f"{H}.{theirs}")),  # LayerNorm: + bias
        *linear("decoder.final_norm", "model.norm"),
        rule("head.weight", "lm_head.weight"),
    ]


IGNORED = ("model.layers.*.self_attn.rotary_emb.inv_freq", "model.rotary_emb.*")


def decoder_family(name: str, defaults: dict, hf_model_types: tuple[str, ...], config_from_hf, config_to_hf, **more):
    """The Family record of a LLaMA-layout decoder family: decoder_rules' weight names, one layer
    placeholder, the base model under "model."; `more` adds or overrides fields (pack, extra rules)."""
    fields = dict(rules=decoder_rules, layers=decoder_layers, ignored=IGNORED, hf_prefix="model.")
    return Family(
        name=name,
        defaults=defaults,
        hf_model_types=hf_model_types,
        config_from_hf=config_from_hf,
        config_to_hf=config_to_hf,
        **{**fields, **more},
    )
