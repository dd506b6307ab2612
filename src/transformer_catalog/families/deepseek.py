"""DeepSeek-V2 (arXiv 2405.04434) and DeepSeek-V3 (arXiv 2412.19437): LLaMA's pre-norm RMSNorm
decoder with multi-head latent attention (nn/mla.py: low-rank query and key/value latents, a shared
rotated key, a cache of latents) and DeepSeekMoE feed-forwards (nn/moe.py: fine-grained routed
experts plus shared experts) after `first_k_dense_replace` dense layers.

V2 routes by softmax, greedily or group-limited (groups ranked by their best score), without
renormalising, times routed_scaling_factor. V3 routes by sigmoid with a selection-only bias
(e_score_correction_bias), always group-limited (groups ranked by the sum of their two best
scores), renormalised, times routed_scaling_factor.

Checkpoint details: both rotate interleaved pairs (x0, x1), (x2, x3)... of the rotary part, which
tcat's rotate-half layout reads after permuting those projection rows (evens, then odds); tcat puts
each query head's rotary part first (mla.py), so the query rows move too. Experts are stored one by
one (stacked here, _experts.py). DeepSeek-V3's multi-token-prediction module (the layers past
num_hidden_layers) predicts a second token during training only: it is skipped, as transformers does.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from ..errors import TcatError
from ..nn.config import LatentConfig, ModelConfig, MoEConfig
from ._decoder import check_roundtrip, decoder_config, decoder_family, decoder_to_hf, hf_biases
from ._experts import no_jitter, stack_experts, unstack_experts
from ._hf import unsupported
from ._rules import linear, rule

HF_MODEL_TYPES = ("deepseek_v2", "deepseek_v3")
COMMON = dict(
    rms_norm_eps=1e-6,
    hidden_act="silu",
    tie_word_embeddings=False,
    attention_bias=False,
    attention_dropout=0.0,
    q_lora_rank=1536,
    kv_lora_rank=512,
    qk_rope_head_dim=64,
    qk_nope_head_dim=128,
    v_head_dim=128,
)
# transformers' defaults where the two configuration classes differ
BY_TYPE = {
    "deepseek_v2": dict(
        n_group=None,
        topk_group=None,
        topk_method="greedy",
        routed_scaling_factor=1.0,
        n_shared_experts=2,
        first_k_dense_replace=0,
        mlp_bias=False,
    ),
    "deepseek_v3": dict(
        n_group=8,
        topk_group=4,
        norm_topk_prob=True,
        routed_scaling_factor=2.5,
        n_shared_experts=1,
        first_k_dense_replace=3,
        rope_interleave=True,
    ),
}
DEFAULTS = dict(model_type="deepseek_v3", **COMMON)


def _mscale(factor: float, mscale: float) -> float:
    return 1.0 if factor <= 1 else 0.1 * mscale * math.log(factor) + 1.0


def _scale(hf: dict, qk_head_dim: int) -> float | None:
    """DeepSeek multiplies the logit scale by mscale(factor, mscale_all_dim)^2 under scaled RoPE
    (transformers' yarn_apply_mscale); None where that is 1 (the default 1/sqrt(head_dim))."""
    params = {**(hf.get("rope_scaling") or {}), **(hf.get("rope_parameters") or {})}
    if params.get("rope_type", params.get("type", "default")) == "default" or not params.get("mscale_all_dim"):
        return None
    return qk_head_dim**-0.5 * _mscale(float(params["factor"]), float(params["mscale_all_dim"])) ** 2


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**COMMON, **hf}
    kind = hf.get("model_type")
    hf = {**BY_TYPE[kind], **hf}
    v3 = kind == "deepseek_v3"
    no_jitter(hf)
    unsupported(hf, "pretraining_tp", (1, None), 1)
    # remote-code configs: experts in every layer past the dense ones
    unsupported(hf, "moe_layer_freq", (1, None), None)
    unsupported(hf, "scoring_func", ("sigmoid" if v3 else "softmax", None), None)
    if v3:
        unsupported(hf, "rope_interleave", (True,), True)
        unsupported(hf, "topk_method", ("noaux_tc", None), None)
    else:
        unsupported(hf, "topk_method", ("greedy", "group_limited_greedy"), "greedy")
    grouped = v3 or hf["topk_method"] == "group_limited_greedy"
    groups, top_groups = (int(hf["n_group"] or 1), int(hf["topk_group"] or 1)) if grouped else (1, 1)
    rope_dim, head_dim = hf["qk_rope_head_dim"], hf["qk_nope_head_dim"] + hf["qk_rope_head_dim"]
    latent = LatentConfig(
        kv_rank=hf["kv_lora_rank"], q_rank=hf["q_lora_rank"] or 0, rope_dim=rope_dim, v_head_dim=hf["v_head_dim"]
    )
    cfg = decoder_config(
        {**hf, "sliding_window": None, "layer_types": None},
        **hf_biases(hf, mlp=True),
        attention={"head_dim": head_dim, "n_kv_heads": None, "latent": latent, "scale": _scale(hf, head_dim)},
    )
    moe = MoEConfig(
        n_experts=hf["n_routed_experts"],
        top_k=hf["num_experts_per_tok"],
        d_ff=hf["moe_intermediate_size"],
        renormalize=v3 and bool(hf["norm_topk_prob"]),  # V2's router never renormalises
        aux_loss_weight=float(hf.get("aux_loss_alpha") or 0.001),
        scoring="sigmoid" if v3 else "softmax",
        selection_bias=v3,
        groups=groups,
        top_groups=top_groups,
        group_score="top2" if v3 else "max",
        routed_scale=float(hf["routed_scaling_factor"]),
        shared_d_ff=hf["moe_intermediate_size"] * (hf["n_shared_experts"] or 0),
        first_dense=hf["first_k_dense_replace"],
    )
    return cfg.replace(moe=dataclasses.asdict(moe))


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    m, lat = cfg.moe, cfg.attention.latent
    if m is None or lat is None:
        raise TcatError(f"export as {model_type}: the model needs latent attention and experts")
    arch = {"deepseek_v2": "DeepseekV2ForCausalLM", "deepseek_v3": "DeepseekV3ForCausalLM"}[model_type]
    hf = decoder_to_hf(cfg, model_type, arch)
    for key in ("layer_types", "sliding_window", "head_dim"):
        hf.pop(key)
    d_ff = m.d_ff or cfg.ffn.d_ff
    hf |= {
        "num_key_value_heads": cfg.attention.n_heads,
        "q_lora_rank": lat.q_rank or None,
        "kv_lora_rank": lat.kv_rank,
        "qk_rope_head_dim": lat.rope_dim,
        "qk_nope_head_dim": cfg.head_dim - lat.rope_dim,
        "v_head_dim": lat.v_head_dim,
        "attention_bias": cfg.attention.qkv_bias,
        "n_routed_experts": m.n_experts,
        "num_experts_per_tok": m.top_k,
        "moe_intermediate_size": d_ff,
        "n_shared_experts": m.shared_d_ff // d_ff,
        "routed_scaling_factor": m.routed_scale,
        "first_k_dense_replace": m.first_dense,
        "n_group": m.groups,
        "topk_group": m.top_groups,
        "norm_topk_prob": m.renormalize,
    }
    if model_type == "deepseek_v3":
        hf["rope_interleave"] = True
    else:
        hf |= {"mlp_bias": cfg.ffn.bias, "topk_method": "group_limited_greedy" if m.groups > 1 else "greedy"}
    return check_roundtrip(cfg, hf, config_from_hf)


B, H = "decoder.blocks.{i}", "model.layers.{i}"


def rules(cfg: ModelConfig) -> list:
    a, f = f"{B}.self_attn", f"{B}.ffn"
    return [
        rule("embed.tokens.weight", "model.embed_tokens.weight"),
        *linear(f"{a}.q_proj", f"{H}.self_attn.q_proj"),
        *linear(f"{a}.q_down", f"{H}.self_attn.q_a_proj"),
        rule(f"{a}.q_norm.weight", f"{H}.self_attn.q_a_layernorm.weight"),
        *linear(f"{a}.q_up", f"{H}.self_attn.q_b_proj"),
        *linear(f"{a}.kv_down", f"{H}.self_attn.kv_a_proj_with_mqa"),
        rule(f"{a}.kv_norm.weight", f"{H}.self_attn.kv_a_layernorm.weight"),
        *linear(f"{a}.kv_up", f"{H}.self_attn.kv_b_proj"),
        *linear(f"{a}.out_proj", f"{H}.self_attn.o_proj"),
        *linear(f"{f}.gate", f"{H}.mlp.gate_proj"),  # the dense layers
        *linear(f"{f}.up", f"{H}.mlp.up_proj"),
        *linear(f"{f}.down", f"{H}.mlp.down_proj"),
        rule(f"{f}.router.weight", f"{H}.mlp.gate.weight"),  # the expert layers
        rule(f"{f}.selection_bias", f"{H}.mlp.gate.e_score_correction_bias"),
        rule(f"{f}.gate_up", f"{H}.mlp.experts.gate_up"),  # stacked by pack()
        rule(f"{f}.down", f"{H}.mlp.experts.down"),
        *(r for p in ("gate", "up", "down") for r in linear(f"{f}.shared.{p}", f"{H}.mlp.shared_experts.{p}_proj")),
        rule(f"{B}.self_attn_norm.weight", f"{H}.input_layernorm.weight"),
        rule(f"{B}.ffn_norm.weight", f"{H}.post_attention_layernorm.weight"),
        rule("decoder.final_norm.weight", "model.norm.weight"),
        rule("head.weight", "lm_head.weight"),
    ]


def _deinterleave(t: torch.Tensor) -> torch.Tensor:
    """Rows (x0, x1, x2, x3, ...) -> (x0, x2, ..., x1, x3, ...): interleaved pairs to rotate-half."""
    return torch.cat([t[0::2], t[1::2]])


def _interleave(t: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(t)
    half = t.shape[0] // 2
    out[0::2], out[1::2] = t[:half], t[half:]
    return out


def _query_rows(t: torch.Tensor, cfg: ModelConfig, to_ours: bool) -> torch.Tensor:
    """Query projection rows per head: theirs [unrotated ; rotary interleaved], ours [rotary in
    rotate-half order ; unrotated]."""
    rope, hd = cfg.attention.latent.rope_dim, cfg.head_dim
    heads = t.reshape(cfg.attention.n_heads, hd, *t.shape[1:])
    out = []
    for h in heads:
        if to_ours:
            out.append(torch.cat([_deinterleave(h[hd - rope :]), h[: hd - rope]]))
        else:
            out.append(torch.cat([h[rope:], _interleave(h[:rope])]))
    return torch.cat(out)


def _kv_rows(t: torch.Tensor, cfg: ModelConfig, to_ours: bool) -> torch.Tensor:
    """kv_a_proj rows: [latent ; shared rotary key], the key interleaved in theirs."""
    rank = cfg.attention.latent.kv_rank
    return torch.cat([t[:rank], (_deinterleave if to_ours else _interleave)(t[rank:])])


def _permute(tensors: dict, cfg: ModelConfig, to_ours: bool) -> dict:
    out = dict(tensors)
    q = "q_proj" if not cfg.attention.latent.q_rank else "q_b_proj"
    for i in range(cfg.n_decoder_layers):
        p = f"model.layers.{i}.self_attn"
        if f"{p}.{q}.weight" in out:
            out[f"{p}.{q}.weight"] = _query_rows(out[f"{p}.{q}.weight"], cfg, to_ours)
        for w in ("weight", "bias"):
            if f"{p}.kv_a_proj_with_mqa.{w}" in out:
                out[f"{p}.kv_a_proj_with_mqa.{w}"] = _kv_rows(out[f"{p}.kv_a_proj_with_mqa.{w}"], cfg, to_ours)
    return out


def pack(tensors: dict, cfg: ModelConfig, where: str) -> dict:
    n = cfg.n_decoder_layers
    # the multi-token-prediction layers (index >= num_hidden_layers) serve training only
    kept = {k: v for k, v in tensors.items() if not _layer_at_least(k, n)}
    return _permute(stack_experts(kept, cfg, where), cfg, to_ours=True)


def _layer_at_least(name: str, n: int) -> bool:
    parts = name.split(".")
    return len(parts) > 2 and parts[:2] == ["model", "layers"] and parts[2].isdigit() and int(parts[2]) >= n


def unpack(tensors: dict, cfg: ModelConfig) -> dict:
    return unstack_experts(_permute(tensors, cfg, to_ours=False), cfg)


FAMILY = decoder_family(
    "deepseek",
    DEFAULTS,
    HF_MODEL_TYPES,
    config_from_hf,
    config_to_hf,
    rules=rules,
    pack=pack,
    unpack=unpack,
)
