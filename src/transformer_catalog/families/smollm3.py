"""SmolLM3: LLaMA's layout in which some layers use no positions at all (NoPE: every fourth layer in
the published model, `no_rope_layers` in general), tied embeddings, and optional sliding windows."""

from __future__ import annotations

from ..nn.config import ModelConfig
from ._decoder import check_roundtrip, decoder_config, decoder_family, decoder_to_hf, expand, fail, hf_biases, period

HF_MODEL_TYPES = ("smollm3",)
DEFAULTS = dict(model_type="smollm3", rms_norm_eps=1e-6, hidden_act="silu", tie_word_embeddings=True)


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    n = hf["num_hidden_layers"]
    rotates = hf.get("no_rope_layers")  # 1: the layer rotates, 0: NoPE (transformers' naming)
    if rotates is None:
        every = int(hf.get("no_rope_layer_interval", 4))
        rotates = [int((i + 1) % every != 0) for i in range(n)]
    if len(rotates) != n or set(rotates) - {0, 1}:
        raise fail(hf, "no_rope_layers", rotates, f"must hold {n} entries of 0 and 1")
    if not hf.get("use_sliding_window", False):
        hf = {**hf, "layer_types": None}
    cfg = decoder_config(hf, **hf_biases(hf, mlp=True))
    return cfg.replace(**{"position.rope_layers": period("".join("R" if r else "N" for r in rotates))})


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    hf = decoder_to_hf(cfg, model_type, "SmolLM3ForCausalLM")
    hf["use_sliding_window"] = hf["sliding_window"] is not None
    hf["no_rope_layers"] = [int(c == "R") for c in expand(cfg.position.rope_layers, cfg.n_decoder_layers)]
    hf["attention_bias"] = cfg.attention.qkv_bias
    hf["mlp_bias"] = cfg.ffn.bias
    return check_roundtrip(cfg, hf, config_from_hf)


FAMILY = decoder_family("smollm3", DEFAULTS, HF_MODEL_TYPES, config_from_hf, config_to_hf)
