"""Llama 4's text decoder (Meta, 2025; Scout and Maverick): LLaMA's layout with three layers out of
four rotating queries and keys and attending within chunks of attention_chunk_size positions, the
fourth using no positions ("NoPE"), seeing the whole context, and sharpening its queries with a
temperature that grows with the position (attention.chunk, position.rope_layers,
attention.temperature_floor); queries and keys of the rotating layers normalised without a gain
(qk_norm "unit"); and mixture-of-experts layers (every one in Scout, every other one in Maverick)
with a sigmoid router choosing one expert whose input, not output, it scales, beside a shared
expert (moe.weight_inputs, moe.shared_d_ff). Dense layers are intermediate_size_mlp wide.

Checkpoint layout: the rotation pairs adjacent dimensions (complex multiplication), which tcat's
rotate-half layout reads after permuting query and key rows per head; experts stacked and
transposed, gate_up_proj (E, d, 2 d_ff) = [gate | up], down_proj (E, d_ff, d). The Hub's checkpoints are
Llama4ForConditionalGeneration folders (model_type llama4): reading one gives its text decoder (under
language_model.; the vision tower and its projector are left out, and such a model exports as llama4_text)."""

from __future__ import annotations

import dataclasses

import torch

from ..errors import TcatError
from ..nn.config import ModelConfig, MoEConfig
from ._decoder import (
    IGNORED,
    check_roundtrip,
    decoder_config,
    decoder_family,
    decoder_to_hf,
    expand,
    fail,
    hf_biases,
    period,
    rope,
)
from ._experts import no_jitter
from ._rules import linear, rule

HF_MODEL_TYPES = ("llama4_text", "llama4")  # llama4: read the text decoder of the multimodal folder
DEFAULTS = dict(
    model_type="llama4_text",
    vocab_size=202048,
    rms_norm_eps=1e-5,
    hidden_act="silu",
    tie_word_embeddings=False,
    attention_bias=False,
    head_dim=128,
    num_experts_per_tok=1,
    interleave_moe_layer_step=1,
    use_qk_norm=True,
    no_rope_layer_interval=4,
    attention_chunk_size=8192,
    attn_temperature_tuning=True,
    floor_scale=8192,
    attn_scale=0.1,
    rope_theta=500000.0,
    router_aux_loss_coef=0.001,
)
LAYER_TYPES = {"chunked_attention": "L", "full_attention": "G"}


def _flags(hf: dict, n: int) -> tuple[str, str]:
    """(rope_layers, window_pattern) over the n layers, as transformers' Llama4TextConfig derives them."""
    interval = hf["no_rope_layer_interval"]
    no_rope = hf.get("no_rope_layers") or [int((i + 1) % interval != 0) for i in range(n)]
    chunk = hf["attention_chunk_size"]
    types = hf.get("layer_types") or [
        "chunked_attention" if r and chunk is not None else "full_attention" for r in no_rope
    ]
    bad = next((t for t in types if t not in LAYER_TYPES), None)
    if bad is not None or len(types) != n or len(no_rope) != n:
        raise fail(hf, "layer_types / no_rope_layers", bad or len(types), f"needs {n} entries of {list(LAYER_TYPES)}")
    return "".join("R" if r else "N" for r in no_rope), "".join(LAYER_TYPES[t] for t in types)


def config_from_hf(hf: dict) -> ModelConfig:
    if hf.get("model_type") == "llama4":  # the multimodal wrapper: its text_config describes the decoder
        if not isinstance(hf.get("text_config"), dict):
            raise fail(hf, "text_config", hf.get("text_config"), "must describe the text decoder")
        hf = {**hf["text_config"], "model_type": "llama4_text"}
    hf = {**DEFAULTS, **hf}
    no_jitter(hf)
    n, step = hf["num_hidden_layers"], int(hf["interleave_moe_layer_step"])
    expected = list(range(step - 1, n, step))
    if step < 1 or hf.get("moe_layers") not in (None, expected):
        raise fail(hf, "moe_layers", hf.get("moe_layers"), f"is not supported (every {step}-th layer: {expected})")
    rope_layers, chunked = _flags(hf, n)
    position = dataclasses.replace(rope(hf, hf["max_position_embeddings"]), rope_layers=period(rope_layers))
    chunk = hf["attention_chunk_size"] if "L" in chunked else None
    cfg = decoder_config(
        {**hf, "intermediate_size": hf["intermediate_size_mlp"], "layer_types": None, "sliding_window": None},
        **hf_biases(hf),
        position=position,
        attention={
            "window_pattern": period(chunked) if chunk else "L",
            "chunk": chunk,
            "qk_norm": "unit" if hf["use_qk_norm"] else "none",
            "temperature_floor": int(hf["floor_scale"]) if hf["attn_temperature_tuning"] else None,
            "temperature_scale": float(hf["attn_scale"]),
        },
    )
    moe = MoEConfig(
        n_experts=hf["num_local_experts"],
        top_k=hf["num_experts_per_tok"],
        d_ff=hf["intermediate_size"],
        renormalize=False,
        aux_loss_weight=float(hf["router_aux_loss_coef"]),
        pattern="D" * (step - 1) + "E",
        scoring="sigmoid",
        shared_d_ff=hf["intermediate_size"],
        weight_inputs=True,
    )
    return cfg.replace(moe=dataclasses.asdict(moe))


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    m, a, n = cfg.moe, cfg.attention, cfg.n_decoder_layers
    if model_type != "llama4_text":
        raise TcatError(f"export as llama4_text: tcat holds Llama 4's text decoder only, not a {model_type} model")
    if m is None:
        raise TcatError(f"export as {model_type}: the model has no mixture-of-experts layers")
    hf = decoder_to_hf(cfg, model_type, "Llama4ForCausalLM")
    hf.pop("sliding_window")
    chunked = expand(a.window_pattern, n) if a.chunk else "G" * n
    back = {v: k for k, v in LAYER_TYPES.items()}
    hf |= {
        "intermediate_size": m.d_ff or cfg.ffn.d_ff,
        "intermediate_size_mlp": cfg.ffn.d_ff,
        "attention_bias": a.qkv_bias,
        "num_local_experts": m.n_experts,
        "num_experts_per_tok": m.top_k,
        "interleave_moe_layer_step": len(m.pattern),
        "moe_layers": [i for i in range(n) if cfg.experts_at(i)],
        "router_aux_loss_coef": m.aux_loss_weight,
        "use_qk_norm": a.qk_norm == "unit",
        "no_rope_layers": [int(cfg.rotates_at(i)) for i in range(n)],
        "attention_chunk_size": a.chunk,
        "layer_types": [back[c] for c in chunked],
        "attn_temperature_tuning": a.temperature_floor is not None,
        "floor_scale": a.temperature_floor or DEFAULTS["floor_scale"],
        "attn_scale": a.temperature_scale,
    }
    return check_roundtrip(cfg, hf, config_from_hf)


B, H = "decoder.blocks.{i}", "model.layers.{i}"
F = "feed_forward"
RULES = [
    rule("embed.tokens.weight", "model.embed_tokens.weight"),
    *(r for p in "qkv" for r in linear(f"{B}.self_attn.{p}_proj", f"{H}.self_attn.{p}_proj")),
    *linear(f"{B}.self_attn.out_proj", f"{H}.self_attn.o_proj"),
    *(r for p in ("gate", "up", "down") for r in linear(f"{B}.ffn.{p}", f"{H}.{F}.{p}_proj")),  # dense layers
    rule(f"{B}.ffn.router.weight", f"{H}.{F}.router.weight"),
    rule(f"{B}.ffn.gate_up", f"{H}.{F}.experts.gate_up_proj"),  # transposed by pack() / unpack()
    rule(f"{B}.ffn.down", f"{H}.{F}.experts.down_proj"),
    *(r for p in ("gate", "up", "down") for r in linear(f"{B}.ffn.shared.{p}", f"{H}.{F}.shared_expert.{p}_proj")),
    rule(f"{B}.self_attn_norm.weight", f"{H}.input_layernorm.weight"),
    rule(f"{B}.ffn_norm.weight", f"{H}.post_attention_layernorm.weight"),
    rule("decoder.final_norm.weight", "model.norm.weight"),
    rule("head.weight", "lm_head.weight"),
]


def _rows(t: torch.Tensor, head_dim: int, to_ours: bool) -> torch.Tensor:
    """Per head: interleaved pairs (x0, x1), (x2, x3)... <-> rotate-half order (x0, x2, ...; x1, x3, ...)."""
    heads = t.reshape(-1, head_dim, *t.shape[1:])
    if to_ours:
        return torch.cat([heads[:, 0::2], heads[:, 1::2]], dim=1).reshape(t.shape)
    out = torch.empty_like(heads)
    out[:, 0::2], out[:, 1::2] = heads[:, : head_dim // 2], heads[:, head_dim // 2 :]
    return out.reshape(t.shape)


def _relayout(tensors: dict, cfg: ModelConfig, to_ours: bool) -> dict:
    out = dict(tensors)
    for i in range(cfg.n_decoder_layers):
        for p in ("q_proj", "k_proj"):
            for w in ("weight", "bias"):
                name = f"model.layers.{i}.self_attn.{p}.{w}"
                if name in out:
                    out[name] = _rows(out[name], cfg.head_dim, to_ours)
        for p in ("gate_up_proj", "down_proj"):
            name = f"model.layers.{i}.{F}.experts.{p}"
            if name in out:
                out[name] = out[name].transpose(1, 2).contiguous()
    return out


FAMILY = decoder_family(
    "llama4",
    DEFAULTS,
    HF_MODEL_TYPES,
    config_from_hf,
    config_to_hf,
    rules=lambda cfg: RULES,
    ignored=(*IGNORED, "vision_model.*", "multi_modal_projector.*"),  # the multimodal folder's other parts
    hf_wrapper_prefixes=("language_model.",),
    pack=lambda tensors, cfg, where: _relayout(tensors, cfg, to_ours=True),
    unpack=lambda tensors, cfg: _relayout(tensors, cfg, to_ours=False),
)
