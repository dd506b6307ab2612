"""Gemma 1, 2 and 3 (text): LLaMA's layout with token embeddings scaled by sqrt(d_model) and tied to
the head, RMSNorm gains stored as offsets from 1, GeGLU (tanh GELU), a head size of its own (256 in
the published sizes). Gemma 2 adds "sandwich" norms (before and after each sublayer), local and global
layers alternating, soft-capped attention and output logits, and a logit scale from
query_pre_attn_scalar; Gemma 3 replaces the attention soft-cap with per-head q/k norms and gives its
local layers their own RoPE base (5 local : 1 global)."""

from __future__ import annotations

from ..errors import TcatError
from ..nn.config import ModelConfig
from ._decoder import (
    check_roundtrip,
    decoder_config,
    decoder_family,
    decoder_to_hf,
    fail,
    hf_biases,
    per_type_rope,
    per_type_rope_to_hf,
)

HF_MODEL_TYPES = ("gemma", "gemma2", "gemma3_text")
DEFAULTS = dict(model_type="gemma", rms_norm_eps=1e-6, tie_word_embeddings=True, head_dim=256)
# transformers' defaults where config.json leaves a field out
_BY_TYPE = {
    "gemma": dict(hidden_act="gelu_pytorch_tanh"),
    "gemma2": dict(
        hidden_activation="gelu_pytorch_tanh",
        query_pre_attn_scalar=256,
        attn_logit_softcapping=50.0,
        final_logit_softcapping=30.0,
        sliding_window=4096,
    ),
    "gemma3_text": dict(
        hidden_activation="gelu_pytorch_tanh",
        query_pre_attn_scalar=256,
        attn_logit_softcapping=None,
        final_logit_softcapping=None,
        sliding_window=4096,
    ),
}
_ARCHITECTURES = {"gemma": "GemmaForCausalLM", "gemma2": "Gemma2ForCausalLM", "gemma3_text": "Gemma3ForCausalLM"}


def _layer_types(hf: dict) -> list[str]:
    """Gemma 2: local, global, local...; Gemma 3: every sliding_window_pattern-th layer global (6)."""
    every = 2 if hf["model_type"] == "gemma2" else int(hf.get("sliding_window_pattern") or 6)
    return ["sliding_attention" if (i + 1) % every else "full_attention" for i in range(hf["num_hidden_layers"])]


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **_BY_TYPE.get(hf.get("model_type"), {}), **hf}
    kind = hf["model_type"]
    if hf.get("use_bidirectional_attention"):
        raise fail(hf, "use_bidirectional_attention", hf["use_bidirectional_attention"])
    common = dict(
        **hf_biases(hf),
        norm={"unit_offset": True},
        embedding={"scale": True, "tie_output": bool(hf["tie_word_embeddings"])},
    )
    if kind == "gemma":
        return decoder_config({**hf, "layer_types": None}, **common)
    hf = {**hf, "layer_types": hf.get("layer_types") or _layer_types(hf)}
    scalar, hd = float(hf["query_pre_attn_scalar"]), hf["head_dim"]
    attention = {"scale": None if scalar == hd else scalar**-0.5, "softcap": hf["attn_logit_softcapping"]}
    common["norm"]["placement"] = "sandwich"
    common["embedding"]["logit_softcap"] = hf["final_logit_softcapping"]
    if kind == "gemma2":
        return decoder_config(hf, act_key="hidden_activation", attention=attention, **common)
    if hf["attn_logit_softcapping"] is not None:  # transformers' Gemma 3 attention never applies it
        raise fail(hf, "attn_logit_softcapping", hf["attn_logit_softcapping"], "is ignored by Gemma 3 in transformers")
    full, local_theta = per_type_rope(hf, 1e6, hf.get("rope_local_base_freq", 1e4))
    cfg = decoder_config(
        {**hf, "rope_scaling": None, "rope_parameters": full},
        act_key="hidden_activation",
        attention={**attention, "qk_norm": "head"},
        **common,
    )
    return cfg.replace(**{"position.rope_local_theta": local_theta})


def _pre_attn_scalar(cfg: ModelConfig) -> int:
    """The integer whose inverse square root is the logit scale (transformers requires an int)."""
    a = cfg.attention
    if a.scale is None:
        return cfg.head_dim
    scalar = round(a.scale**-2)
    if abs(scalar**-0.5 - a.scale) > 1e-9 * a.scale:
        raise TcatError(
            f"export as gemma: attention.scale={a.scale} is not 1/sqrt of an integer (query_pre_attn_scalar)"
        )
    return scalar


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    act_key = "hidden_act" if model_type == "gemma" else "hidden_activation"
    hf = decoder_to_hf(cfg, model_type, _ARCHITECTURES[model_type], act_key)
    a = cfg.attention
    hf["attention_bias"] = a.qkv_bias
    if model_type == "gemma":
        del hf["layer_types"], hf["sliding_window"]
    else:
        hf["query_pre_attn_scalar"] = _pre_attn_scalar(cfg)
        hf["attn_logit_softcapping"] = a.softcap
        hf["final_logit_softcapping"] = cfg.embedding.logit_softcap
    if model_type == "gemma3_text":
        per_type_rope_to_hf(cfg, hf)
    return check_roundtrip(cfg, hf, config_from_hf)


FAMILY = decoder_family("gemma", DEFAULTS, HF_MODEL_TYPES, config_from_hf, config_to_hf)
