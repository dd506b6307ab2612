"""gpt-oss (OpenAI, 2025): a pre-norm RMSNorm decoder whose layers alternate a sliding window (128)
with full attention (`layer_types`), grouped-query attention with biases and a learned sink logit
per head (attention.sinks), YaRN-scaled RoPE, and a mixture of experts in every layer: a router
with a bias, top-k of its logits softmaxed (= softmax renormalised over the chosen experts), and
experts with biases computing gpt-oss's clamped SwiGLU, (clamp(up) + 1) * g * sigmoid(1.702 g)
with g = clamp(gate) (moe.clamp, moe.up_offset, quick_gelu).

Checkpoint layout: experts stacked and transposed, gate_up_proj (E, d, 2 d_ff) with gate and up
columns interleaved (g0, u0, g1, u1, ...), down_proj (E, d_ff, d); tcat keeps (E, 2 d_ff, d) with
all gate rows first, (E, d, d_ff)."""

from __future__ import annotations

import dataclasses

import torch

from ..errors import TcatError
from ..nn.config import ModelConfig, MoEConfig
from ._decoder import check_roundtrip, decoder_config, decoder_family, decoder_to_hf, fail, hf_biases
from ._experts import no_jitter
from ._rules import linear, rule

HF_MODEL_TYPES = ("gpt_oss",)
DEFAULTS = dict(
    model_type="gpt_oss",
    rms_norm_eps=1e-5,
    hidden_act="silu",
    tie_word_embeddings=False,
    attention_bias=True,
    head_dim=64,
    sliding_window=128,
    swiglu_alpha=1.702,
    swiglu_limit=7.0,
    router_aux_loss_coef=0.001,
)
ALPHA = 1.702  # quick_gelu's constant: g * sigmoid(1.702 g)


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    no_jitter(hf)
    if float(hf["swiglu_alpha"]) != ALPHA:
        raise fail(hf, "swiglu_alpha", hf["swiglu_alpha"], f"is not supported (supported: {ALPHA})")
    n = hf["num_hidden_layers"]
    if not hf.get("layer_types"):  # transformers' default: sliding first, then alternating
        hf = {**hf, "layer_types": ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(n)]}
    cfg = decoder_config(hf, **hf_biases(hf), attention={"sinks": True})
    limit = hf["swiglu_limit"]
    moe = MoEConfig(
        n_experts=hf["num_local_experts"],
        top_k=hf["num_experts_per_tok"],
        d_ff=hf["intermediate_size"],
        renormalize=True,
        aux_loss_weight=float(hf["router_aux_loss_coef"]),
        router_bias=True,
        expert_bias=True,
        clamp=None if limit is None else float(limit),
        up_offset=1.0,
    )
    return cfg.replace(moe=dataclasses.asdict(moe), **{"ffn.activation": "quick_gelu"})


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    m = cfg.moe
    if m is None:
        raise TcatError(f"export as {model_type}: the model has no mixture-of-experts layers")
    hf = decoder_to_hf(cfg, model_type, "GptOssForCausalLM")
    hf |= {
        "hidden_act": "silu",  # transformers ignores it: the experts' gate is fixed
        "attention_bias": cfg.attention.qkv_bias,
        "num_local_experts": m.n_experts,
        "num_experts_per_tok": m.top_k,
        "intermediate_size": m.d_ff or cfg.ffn.d_ff,
        "router_aux_loss_coef": m.aux_loss_weight,
        "swiglu_alpha": ALPHA,
        "swiglu_limit": m.clamp,
    }
    return check_roundtrip(cfg, hf, config_from_hf)


B, H = "decoder.blocks.{i}", "model.layers.{i}"
RULES = [
    rule("embed.tokens.weight", "model.embed_tokens.weight"),
    *(r for p in "qkv" for r in linear(f"{B}.self_attn.{p}_proj", f"{H}.self_attn.{p}_proj")),
    *linear(f"{B}.self_attn.out_proj", f"{H}.self_attn.o_proj"),
    rule(f"{B}.self_attn.sinks", f"{H}.self_attn.sinks"),
    *linear(f"{B}.ffn.router", f"{H}.mlp.router"),
    rule(f"{B}.ffn.gate_up", f"{H}.mlp.experts.gate_up_proj"),  # re-laid out by pack() / unpack()
    rule(f"{B}.ffn.in_bias", f"{H}.mlp.experts.gate_up_proj_bias"),
    rule(f"{B}.ffn.down", f"{H}.mlp.experts.down_proj"),
    rule(f"{B}.ffn.down_bias", f"{H}.mlp.experts.down_proj_bias"),
    rule(f"{B}.self_attn_norm.weight", f"{H}.input_layernorm.weight"),
    rule(f"{B}.ffn_norm.weight", f"{H}.post_attention_layernorm.weight"),
    rule("decoder.final_norm.weight", "model.norm.weight"),
    rule("head.weight", "lm_head.weight"),
]


def _relayout(tensors: dict, cfg: ModelConfig, to_ours: bool) -> dict:
    """Interleaved, transposed expert tensors <-> gate rows first, (out, in) like nn.Linear."""
    out = dict(tensors)
    for i in range(cfg.n_decoder_layers):
        p = f"model.layers.{i}.mlp.experts"
        gu, gub, down = f"{p}.gate_up_proj", f"{p}.gate_up_proj_bias", f"{p}.down_proj"
        if to_ours:
            if gu in out:
                t = out[gu].transpose(1, 2)
                out[gu] = torch.cat([t[:, 0::2], t[:, 1::2]], dim=1)
            if gub in out:
                out[gub] = torch.cat([out[gub][:, 0::2], out[gub][:, 1::2]], dim=1)
            if down in out:
                out[down] = out[down].transpose(1, 2)
            continue
        for name in (gu, gub):
            t, half = out[name], out[name].shape[1] // 2
            mixed = torch.empty_like(t)
            mixed[:, 0::2], mixed[:, 1::2] = t[:, :half], t[:, half:]
            out[name] = mixed.transpose(1, 2) if name == gu else mixed
        out[down] = out[down].transpose(1, 2)
    return {k: v.contiguous() for k, v in out.items()}


FAMILY = decoder_family(
    "gpt_oss",
    DEFAULTS,
    HF_MODEL_TYPES,
    config_from_hf,
    config_to_hf,
    rules=lambda cfg: RULES,
    pack=lambda tensors, cfg, where: _relayout(tensors, cfg, to_ours=True),
    unpack=lambda tensors, cfg: _relayout(tensors, cfg, to_ours=False),
)
