"""Qwen3-MoE (arXiv 2505.09388): Qwen3's decoder (per-head RMSNorm of queries and keys, a head size
of its own, no biases) with a mixture of SwiGLU experts in every `decoder_sparse_step`-th layer:
softmax routing over all experts, the top k optionally renormalised (norm_topk_prob), no shared
expert. Experts are stored one by one in checkpoints (stacked here, _experts.py)."""

from __future__ import annotations

from ..nn.config import ModelConfig
from ._decoder import check_roundtrip, decoder_config, decoder_to_hf, fail, hf_biases
from ._experts import mlp_experts_family, no_jitter, topk_moe, topk_moe_to_hf

HF_MODEL_TYPES = ("qwen3_moe",)
DEFAULTS = dict(
    model_type="qwen3_moe",
    rms_norm_eps=1e-6,
    hidden_act="silu",
    tie_word_embeddings=False,
    attention_bias=False,
    decoder_sparse_step=1,
    norm_topk_prob=False,
    router_aux_loss_coef=0.001,
    use_sliding_window=False,
)


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    no_jitter(hf)
    if hf.get("mlp_only_layers"):
        why = "is not supported (dense layers by decoder_sparse_step only)"
        raise fail(hf, "mlp_only_layers", hf["mlp_only_layers"], why)
    step = int(hf["decoder_sparse_step"])
    experts = hf.get("num_local_experts", hf.get("num_experts"))  # config.json spells it num_local_experts
    if step < 1 or experts is None or experts < 0:
        raise fail(hf, "decoder_sparse_step / num_experts", (step, experts), "must be positive and non-negative")
    n = hf["num_hidden_layers"]
    # transformers ignores sliding_window unless use_sliding_window; then every layer slides
    types = ["sliding_attention"] * n if hf["use_sliding_window"] else None
    hf = {**hf, "layer_types": types, "sliding_window": hf.get("sliding_window") if types else None}
    cfg = decoder_config(hf, **hf_biases(hf), attention={"qk_norm": "head"})
    if experts == 0:  # transformers builds dense Qwen3 layers then: the dense sizes share this layout
        return cfg
    # layer i has experts where (i + 1) % step == 0
    return cfg.replace(moe=topk_moe(hf, experts, "moe_intermediate_size", pattern="D" * (step - 1) + "E"))


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    hf = decoder_to_hf(cfg, model_type, "Qwen3MoeForCausalLM")
    hf.pop("layer_types")
    hf |= {"use_sliding_window": cfg.attention.window is not None, "attention_bias": cfg.attention.qkv_bias}
    m = cfg.moe
    if m is None:  # dense: num_experts 0
        return check_roundtrip(cfg, {**hf, "num_experts": 0, "mlp_only_layers": []}, config_from_hf)
    hf |= {**topk_moe_to_hf(cfg, "moe_intermediate_size"), "decoder_sparse_step": len(m.pattern), "mlp_only_layers": []}
    return check_roundtrip(cfg, hf, config_from_hf)


FAMILY = mlp_experts_family("qwen3_moe", DEFAULTS, HF_MODEL_TYPES, config_from_hf, config_to_hf)
