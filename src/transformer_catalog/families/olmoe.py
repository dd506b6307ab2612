"""OLMoE (arXiv 2409.02060): a pre-norm LLaMA-style decoder with OLMo's RMSNorm of the queries and
keys across all heads, and a mixture of SwiGLU experts in every layer (64 experts, top 8, softmax
routing, the top-k weights not renormalised). Experts are stored one by one in checkpoints (stacked
here, _experts.py)."""

from __future__ import annotations

from ..nn.config import ModelConfig
from ._decoder import check_roundtrip, decoder_config, decoder_to_hf, fail, hf_biases
from ._experts import mlp_experts_family, topk_moe, topk_moe_to_hf

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
    cfg = decoder_config(hf, **hf_biases(hf), attention={"qk_norm": "all"})
    return cfg.replace(moe=topk_moe(hf, hf["num_experts"], "intermediate_size"))


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    hf = decoder_to_hf(cfg, model_type, "OlmoeForCausalLM")
    del hf["layer_types"], hf["sliding_window"]
    if cfg.moe is None:
        raise fail(hf, "moe", None, "is required: OLMoE has experts in every layer")
    hf |= {"attention_bias": cfg.attention.qkv_bias, **topk_moe_to_hf(cfg, "intermediate_size"), "clip_qkv": None}
    return check_roundtrip(cfg, hf, config_from_hf)


FAMILY = mlp_experts_family("olmoe", DEFAULTS, HF_MODEL_TYPES, config_from_hf, config_to_hf)
