"""OLMoE (arXiv 2409.02060): a pre-norm LLaMA-style decoder with OLMo's RMSNorm of the queries and
keys across all heads, and a mixture of SwiGLU experts in every layer (64 experts, top 8, softmax
routing, the top-k weights not renormalised). Experts are stored one by one in checkpoints (stacked
here, _experts.py)."""

from __future__ import annotations

import dataclasses

from ..nn.config import ModelConfig, MoEConfig
from ._decoder import IGNORED, check_roundtrip, decoder_config, decoder_rules, decoder_to_hf, fail
from ._experts import stack_experts, unstack_experts
from ._family import Family
from ._hf import decoder_layers
from ._rules import rule

HF_MODEL_TYPES = ("olmoe",)
DEFAULTS = dict(
    model_type="olmoe",
    vocab_size=50304,  # transformers' OlmoeConfig defaults, as the released OLMoE-1B-7B
    rms_norm_eps=1e-5,
    hidden_act="silu",
    tie_word_embeddings=False,
    pad_token_id=1,
    num_experts=64,
    num_experts_per_tok=8,
    norm_topk_prob=False,
    router_aux_loss_coef=0.01,
)


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf, "layer_types": None}
    if hf.get("clip_qkv") is not None:  # OLMo's clamping of q, k, v activations is not built
        raise fail(hf, "clip_qkv", hf["clip_qkv"])
    bias = bool(hf.get("attention_bias", False))
    cfg = decoder_config(hf, qkv_bias=bias, out_bias=bias, attention={"qk_norm": "all"})
    moe = MoEConfig(
        n_experts=hf["num_experts"],
        top_k=hf["num_experts_per_tok"],
        d_ff=hf["intermediate_size"],
        renormalize=bool(hf["norm_topk_prob"]),
        aux_loss_weight=float(hf["router_aux_loss_coef"]),
    )
    return cfg.replace(moe=dataclasses.asdict(moe))


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    hf = decoder_to_hf(cfg, model_type, "OlmoeForCausalLM")
    del hf["layer_types"], hf["sliding_window"]
    m = cfg.moe
    if m is None:
        raise fail(hf, "moe", None, "is required: OLMoE has experts in every layer")
    hf |= {
        "attention_bias": cfg.attention.qkv_bias,
        "num_experts": m.n_experts,
        "num_experts_per_tok": m.top_k,
        "intermediate_size": m.d_ff or cfg.ffn.d_ff,
        "norm_topk_prob": m.renormalize,
        "router_aux_loss_coef": m.aux_loss_weight,
        "clip_qkv": None,
    }
    return check_roundtrip(cfg, hf, config_from_hf)


B, H = "decoder.blocks.{i}", "model.layers.{i}"
MOE_RULES = [
    rule(f"{B}.ffn.router.weight", f"{H}.mlp.gate.weight"),
    rule(f"{B}.ffn.gate_up", f"{H}.mlp.experts.gate_up"),  # stacked by pack()
    rule(f"{B}.ffn.down", f"{H}.mlp.experts.down"),
]

FAMILY = Family(
    name="olmoe",
    defaults=DEFAULTS,
    hf_model_types=HF_MODEL_TYPES,
    config_from_hf=config_from_hf,
    config_to_hf=config_to_hf,
    rules=lambda cfg: [*decoder_rules(cfg), *MOE_RULES],
    layers=decoder_layers,
    ignored=IGNORED,
    hf_prefix="model.",
    pack=stack_experts,
    unpack=unstack_experts,
)
