"""LLaMA (Touvron et al., 2023) and the decoders that share its layout (Mistral, whose attention
may slide over a window; Mixtral, whose feed-forward is a mixture of SwiGLU experts): pre-norm RMSNorm,
rotary positions, SwiGLU feed-forward, no biases, grouped-query attention from LLaMA 2 70B on,
an untied output projection. Checkpoint mapping below."""

from __future__ import annotations

import math

from ..errors import TcatError
from ..nn.config import AttentionConfig, EmbeddingConfig, FFNConfig, ModelConfig, MoEConfig, NormConfig, PositionConfig
from ._experts import stack_experts, unstack_experts
from ._family import Family
from ._hf import ACTIVATIONS_BACK, activation, decoder_layers, unsupported
from ._rules import linear, rule

HF_MODEL_TYPES = ("llama", "mistral", "mixtral")
HF_WRAPPER_PREFIXES: tuple[str, ...] = ()
HF_PREFIX = "model."

# The published LLaMA sizes live in the catalog (LLaMA's variants; `llama-7b` ... resolve there
# through catalog/specs.py): the family holds only the Hugging Face vocabulary and weight rules.
CONFIGS: dict[str, dict] = {}
DEFAULTS = dict(
    model_type="llama",
    vocab_size=32000,
    max_position_embeddings=2048,
    rms_norm_eps=1e-6,
    hidden_act="silu",
    tie_word_embeddings=False,
    attention_bias=False,
    mlp_bias=False,
)


layers = decoder_layers


def _rope(hf: dict, max_len: int) -> PositionConfig:
    # transformers >= 4.56 nests RoPE settings in rope_parameters; older configs use rope_theta
    # and rope_scaling. Read as transformers' modeling_rope_utils reads them (defaults included).
    params = {**(hf.get("rope_scaling") or {}), **(hf.get("rope_parameters") or {})}
    kind = params.get("rope_type", params.get("type", "default"))
    theta = float(params.get("rope_theta", hf.get("rope_theta", 10000.0)))
    if kind == "default":
        return PositionConfig(kind="rope", max_len=max_len, rope_theta=theta)
    if kind not in ("linear", "llama3", "dynamic", "yarn", "longrope"):
        raise TcatError(f"Hugging Face config {hf.get('model_type')}: rope_type={kind!r} is not supported yet")
    # Phi-3 keeps the pretraining length at the top level; transformers lets it win over rope_parameters'
    original = int(
        hf.get("original_max_position_embeddings") or params.get("original_max_position_embeddings") or max_len
    )
    factor = params.get("factor")
    if factor is None and kind in ("yarn", "longrope"):  # transformers derives it from the two lengths
        factor = max_len / original
    if factor is None or not float(factor) > 0:
        raise TcatError(f"Hugging Face config {hf.get('model_type')}: rope factor must be positive, got {factor}")
    p = PositionConfig(kind="rope", max_len=max_len, rope_theta=theta, rope_scaling=kind, rope_factor=float(factor))
    if kind == "llama3":
        p.rope_low_freq = float(params["low_freq_factor"])
        p.rope_high_freq = float(params["high_freq_factor"])
        p.rope_original_len = int(params["original_max_position_embeddings"])
    elif kind == "dynamic":
        # transformers scales beyond max_position_embeddings itself, with no upper limit: tcat keeps
        # that length as the original one and accepts factor times as many positions
        p.rope_original_len, p.max_len = max_len, int(math.ceil(max_len * p.rope_factor))
    elif kind == "yarn":
        p.rope_original_len = original
        p.rope_attention_factor = _yarn_attention_factor(params, p.rope_factor)
        p.rope_beta_fast = float(params.get("beta_fast") or 32)
        p.rope_beta_slow = float(params.get("beta_slow") or 1)
        p.rope_truncate = bool(params.get("truncate", True))
    elif kind == "longrope":
        p.rope_original_len = original
        p.rope_short_factor = [float(f) for f in params["short_factor"]]
        p.rope_long_factor = [float(f) for f in params["long_factor"]]
        p.rope_attention_factor = None if params.get("attention_factor") is None else float(params["attention_factor"])
    return p


def _yarn_attention_factor(params: dict, factor: float) -> float | None:
    """YaRN's cos/sin multiplier as transformers resolves it; None leaves tcat's default (the same
    0.1 ln(factor) + 1). DeepSeek's mscale / mscale_all_dim give a ratio of two such terms."""
    if params.get("attention_factor") is not None:
        return float(params["attention_factor"])
    mscale, mscale_all_dim = params.get("mscale"), params.get("mscale_all_dim")
    if not (mscale and mscale_all_dim):
        return None

    def term(m: float) -> float:
        return 1.0 if factor <= 1 else 0.1 * m * math.log(factor) + 1.0

    return term(mscale) / term(mscale_all_dim)


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    window = hf.get("sliding_window") if hf["model_type"] != "llama" else None
    unsupported(hf, "pretraining_tp", (1,), 1)
    d, heads = hf["hidden_size"], hf["num_attention_heads"]
    # a head size of its own (Mistral NeMo: 128 at width 5120 with 32 heads); None where it is d / heads
    head_dim = None if hf.get("head_dim") in (None, d // heads) and d % heads == 0 else int(hf["head_dim"])
    bias = bool(hf["attention_bias"])
    moe = None
    if hf["model_type"] == "mixtral":
        moe = MoEConfig(
            n_experts=hf["num_local_experts"],
            top_k=hf["num_experts_per_tok"],
            d_ff=hf["intermediate_size"],
            renormalize=True,
            aux_loss_weight=hf.get("router_aux_loss_coef", 0.001),
        )
    return ModelConfig(
        arch="decoder",
        d_model=d,
        n_encoder_layers=0,
        n_decoder_layers=hf["num_hidden_layers"],
        dropout=0.0,
        attention=AttentionConfig(
            n_heads=heads,
            n_kv_heads=hf.get("num_key_value_heads") or heads,
            head_dim=head_dim,
            qkv_bias=bias,
            out_bias=bias,
            dropout=hf.get("attention_dropout", 0.0),
            window=window,
        ),
        position=_rope(hf, hf["max_position_embeddings"]),
        norm=NormConfig(kind="rmsnorm", bias=False, placement="pre", final=True, eps=hf["rms_norm_eps"]),
        ffn=FFNConfig(
            d_ff=hf["intermediate_size"], activation=activation(hf, "hidden_act"), gated=True, bias=bool(hf["mlp_bias"])
        ),
        embedding=EmbeddingConfig(
            vocab_size=hf["vocab_size"],
            pad_id=hf.get("pad_token_id") or 0,
            scale=False,
            tie_output=bool(hf["tie_word_embeddings"]),
        ),
        moe=moe,
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    a = cfg.attention
    if model_type == "llama" and a.window:
        raise TcatError("LLaMA has no sliding-window attention: export this model as mistral")
    if (model_type == "mixtral") != (cfg.moe is not None):
        raise TcatError(f"export as {model_type}: the model {'has' if cfg.moe else 'has no'} mixture-of-experts layers")
    if cfg.moe is not None and (set(cfg.moe.pattern) != {"E"} or cfg.moe.first_dense):
        # Mixtral's config.json has no way to say that some layers are dense: it would load as another model
        raise TcatError(
            f"export as mixtral: every layer must have experts (moe.pattern={cfg.moe.pattern!r}, "
            f"moe.first_dense={cfg.moe.first_dense})"
        )
    if a.qkv_bias != a.out_bias:
        raise TcatError("LLaMA's Hugging Face config has one attention_bias for q, k, v and o; this model differs")
    return {
        "model_type": model_type,
        "architectures": [
            {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "mixtral": "MixtralForCausalLM"}[model_type]
        ],
        "vocab_size": cfg.embedding.vocab_size,
        "hidden_size": cfg.d_model,
        "intermediate_size": cfg.ffn.d_ff,
        "num_hidden_layers": cfg.n_decoder_layers,
        "num_attention_heads": a.n_heads,
        "num_key_value_heads": cfg.n_kv_heads,
        "head_dim": cfg.head_dim,
        "max_position_embeddings": cfg.position.max_len,
        "rms_norm_eps": cfg.norm.eps,
        "hidden_act": ACTIVATIONS_BACK[cfg.ffn.activation],
        "tie_word_embeddings": cfg.embedding.tie_output,
        "attention_bias": a.qkv_bias,
        "mlp_bias": cfg.ffn.bias,
        "rope_theta": cfg.position.rope_theta,
        **_rope_to_hf(cfg.position, int(cfg.head_dim * cfg.position.rotary_fraction)),
        "pad_token_id": cfg.embedding.pad_id,
        **({"sliding_window": a.window} if model_type != "llama" else {}),
        **(
            {
                "num_local_experts": cfg.moe.n_experts,
                "num_experts_per_tok": cfg.moe.top_k,
                "intermediate_size": cfg.moe.d_ff,
                "router_aux_loss_coef": cfg.moe.aux_loss_weight,
            }
            if cfg.moe
            else {}
        ),
    }


def _rope_to_hf(p: PositionConfig, rot: int) -> dict:
    """The rope_scaling / rope_parameters entries (and any top-level key they override); `rot` is
    the number of rotating dimensions per head."""
    if p.rope_scaling == "none":
        return {}
    if p.rope_scaling == "ntk":  # static NTK-aware scaling is a raised base, which transformers reads as such
        theta = p.rope_theta * p.rope_factor ** (rot / (rot - 2))
        return {"rope_theta": theta, "rope_parameters": {"rope_type": "default", "rope_theta": theta}}
    scaling = {"rope_type": p.rope_scaling, "factor": p.rope_factor}
    top = {}
    if p.rope_scaling == "llama3":
        scaling |= {
            "low_freq_factor": p.rope_low_freq,
            "high_freq_factor": p.rope_high_freq,
            "original_max_position_embeddings": p.rope_original_len,
        }
    elif p.rope_scaling == "dynamic":  # transformers scales beyond max_position_embeddings
        top = {"max_position_embeddings": p.rope_original_len}
    elif p.rope_scaling == "yarn":
        scaling |= {
            "original_max_position_embeddings": p.rope_original_len,
            "beta_fast": p.rope_beta_fast,
            "beta_slow": p.rope_beta_slow,
            "truncate": p.rope_truncate,
        }
    elif p.rope_scaling == "longrope":
        scaling |= {
            "original_max_position_embeddings": p.rope_original_len,
            "short_factor": list(p.rope_short_factor),
            "long_factor": list(p.rope_long_factor),
        }
    if p.rope_attention_factor is not None and p.rope_scaling in ("yarn", "longrope"):
        scaling["attention_factor"] = p.rope_attention_factor
    return {**top, "rope_scaling": scaling, "rope_parameters": {"rope_theta": p.rope_theta, **scaling}}


B, H = "decoder.blocks.{i}", "model.layers.{i}"
RULES = [
    rule("embed.tokens.weight", "model.embed_tokens.weight"),
    *linear(f"{B}.self_attn.q_proj", f"{H}.self_attn.q_proj"),
    *linear(f"{B}.self_attn.k_proj", f"{H}.self_attn.k_proj"),
    *linear(f"{B}.self_attn.v_proj", f"{H}.self_attn.v_proj"),
    *linear(f"{B}.self_attn.out_proj", f"{H}.self_attn.o_proj"),
    *linear(f"{B}.ffn.gate", f"{H}.mlp.gate_proj"),
    *linear(f"{B}.ffn.up", f"{H}.mlp.up_proj"),
    *linear(f"{B}.ffn.down", f"{H}.mlp.down_proj"),
    rule(f"{B}.ffn.router.weight", f"{H}.block_sparse_moe.gate.weight"),  # Mixtral: router and experts
    rule(f"{B}.ffn.gate_up", f"{H}.block_sparse_moe.experts.gate_up"),  # stacked by pack() below
    rule(f"{B}.ffn.down", f"{H}.block_sparse_moe.experts.down"),
    rule(f"{B}.self_attn_norm.weight", f"{H}.input_layernorm.weight"),
    rule(f"{B}.ffn_norm.weight", f"{H}.post_attention_layernorm.weight"),
    rule("decoder.final_norm.weight", "model.norm.weight"),
    rule("head.weight", "lm_head.weight"),
]


MIXTRAL_EXPERTS = "model.layers.{i}.block_sparse_moe.experts"


def pack(tensors: dict, cfg: ModelConfig, where: str) -> dict:
    """Mixtral checkpoints store each expert as w1 (gate), w3 (up) and w2 (down); tcat stacks them:
    gate_up = [w1; w3] per expert, (E, 2 d_ff, d), and down, (E, d, d_ff)."""
    if cfg.moe is None:
        return tensors
    return stack_experts(tensors, cfg, where, MIXTRAL_EXPERTS, ("w1", "w3", "w2"))


def unpack(tensors: dict, cfg: ModelConfig) -> dict:
    if cfg.moe is None:
        return tensors
    return unstack_experts(tensors, cfg, MIXTRAL_EXPERTS, ("w1", "w3", "w2"))


IGNORED = ("model.layers.*.self_attn.rotary_emb.inv_freq",)


FAMILY = Family(
    name="llama",
    configs=CONFIGS,
    defaults=DEFAULTS,
    hf_model_types=HF_MODEL_TYPES,
    config_from_hf=config_from_hf,
    config_to_hf=config_to_hf,
    rules=lambda cfg: RULES,
    layers=layers,
    ignored=IGNORED,
    hf_prefix=HF_PREFIX,
    pack=pack,
    unpack=unpack,
)
