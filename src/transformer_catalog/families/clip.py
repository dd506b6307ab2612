"""CLIP (Radford et al., 2021): a causal pre-norm text encoder pooled at its end-of-text token and
a ViT image encoder (no patch bias, a norm before and after the stack) pooled at its class token,
both projected into one space and compared with a learned temperature. Checkpoint mapping below."""

from __future__ import annotations

import math

from ..nn.config import (
    AttentionConfig,
    EmbeddingConfig,
    FFNConfig,
    ModelConfig,
    NormConfig,
    PositionConfig,
    VisionConfig,
)
from ..nn.dual import DualEncoderConfig, build_dual
from ._family import Family
from ._hf import ACTIVATIONS_BACK, activation
from ._rules import linear, rule

HF_MODEL_TYPES = ("clip",)
HF_WRAPPER_PREFIXES: tuple[str, ...] = ()
HF_PREFIX = ""
TEXT = dict(
    vocab_size=49408,
    hidden_size=512,
    intermediate_size=2048,
    num_hidden_layers=12,
    num_attention_heads=8,
    max_position_embeddings=77,
    hidden_act="quick_gelu",
    layer_norm_eps=1e-5,
    eos_token_id=49407,
    pad_token_id=1,
)
VISION = dict(
    hidden_size=768,
    intermediate_size=3072,
    num_hidden_layers=12,
    num_attention_heads=12,
    image_size=224,
    patch_size=32,
    num_channels=3,
    hidden_act="quick_gelu",
    layer_norm_eps=1e-5,
)
DEFAULTS = dict(model_type="clip", projection_dim=512, logit_scale_init_value=math.log(1 / 0.07))
build = build_dual


def layers(cfg: DualEncoderConfig) -> dict[str, int]:
    return {"t": cfg.text.n_encoder_layers, "v": cfg.vision.n_encoder_layers}


def _tower(h: dict, vision: VisionConfig | None) -> ModelConfig:
    max_len = vision.n_patches + 1 if vision else h["max_position_embeddings"]
    return ModelConfig(
        arch="encoder",
        d_model=h["hidden_size"],
        n_encoder_layers=h["num_hidden_layers"],
        n_decoder_layers=0,
        dropout=0.0,
        attention=AttentionConfig(n_heads=h["num_attention_heads"], causal=vision is None),
        position=PositionConfig(kind="none" if vision else "learned", max_len=max_len),
        norm=NormConfig(placement="pre", final=True, eps=h["layer_norm_eps"]),
        ffn=FFNConfig(d_ff=h["intermediate_size"], activation=activation(h, "hidden_act")),
        embedding=EmbeddingConfig(
            vocab_size=h.get("vocab_size", 1),
            pad_id=h.get("pad_token_id", 0) if not vision else 0,
            scale=False,
            tie_output=False,
            norm=vision is not None,
        ),
        vision=vision,
    )


def config_from_hf(hf: dict) -> DualEncoderConfig:
    hf = {**DEFAULTS, **hf}
    text = {**TEXT, **(hf.get("text_config") or {})}
    vis = {**VISION, **(hf.get("vision_config") or {})}
    vision = VisionConfig(
        image_size=vis["image_size"], patch_size=vis["patch_size"], channels=vis["num_channels"], patch_bias=False
    )
    return DualEncoderConfig(
        text=_tower(text, None),
        vision=_tower(vis, vision),
        projection_dim=hf["projection_dim"],
        logit_scale_init=float(hf["logit_scale_init_value"]),
        eos_id=text["eos_token_id"],
        text_pool="argmax" if text["eos_token_id"] == 2 else "eos",
    )


def config_to_hf(cfg: DualEncoderConfig, model_type: str) -> dict:
    def tower(c: ModelConfig) -> dict:
        return {
            "hidden_size": c.d_model,
            "intermediate_size": c.ffn.d_ff,
            "num_hidden_layers": c.n_encoder_layers,
            "num_attention_heads": c.attention.n_heads,
            "hidden_act": ACTIVATIONS_BACK[c.ffn.activation],
            "layer_norm_eps": c.norm.eps,
        }

    t, v = cfg.text, cfg.vision
    return {
        "model_type": "clip",
        "architectures": ["CLIPModel"],
        "projection_dim": cfg.projection_dim,
        "logit_scale_init_value": cfg.logit_scale_init,
        "text_config": {
            **tower(t),
            "vocab_size": t.embedding.vocab_size,
            "max_position_embeddings": t.position.max_len,
            "eos_token_id": cfg.eos_id,
            "pad_token_id": t.embedding.pad_id,
        },
        "vision_config": {
            **tower(v),
            "image_size": v.vision.image_size,
            "patch_size": v.vision.patch_size,
            "num_channels": v.vision.channels,
        },
    }


def pack(tensors: dict, cfg: DualEncoderConfig, where: str) -> dict:
    """CLIP stores the class token as (d,) and the positions as (N + 1, d); tcat keeps a batch axis."""
    out = dict(tensors)
    for name in ("vision_model.embeddings.class_embedding", "vision_model.embeddings.position_embedding.weight"):
        if name in out:
            out[name] = out[name].reshape(1, -1, cfg.vision.d_model)
    return out


def unpack(tensors: dict, cfg: DualEncoderConfig) -> dict:
    out = dict(tensors)
    out["vision_model.embeddings.class_embedding"] = out["vision_model.embeddings.class_embedding"].reshape(-1)
    key = "vision_model.embeddings.position_embedding.weight"
    out[key] = out[key].reshape(-1, cfg.vision.d_model)
    return out


def _blocks(ours: str, theirs: str) -> list:
    return [
        *linear(f"{ours}.self_attn.q_proj", f"{theirs}.self_attn.q_proj"),
        *linear(f"{ours}.self_attn.k_proj", f"{theirs}.self_attn.k_proj"),
        *linear(f"{ours}.self_attn.v_proj", f"{theirs}.self_attn.v_proj"),
        *linear(f"{ours}.self_attn.out_proj", f"{theirs}.self_attn.out_proj"),
        *linear(f"{ours}.self_attn_norm", f"{theirs}.layer_norm1"),
        *linear(f"{ours}.ffn.up", f"{theirs}.mlp.fc1"),
        *linear(f"{ours}.ffn.down", f"{theirs}.mlp.fc2"),
        *linear(f"{ours}.ffn_norm", f"{theirs}.layer_norm2"),
    ]


RULES = [
    rule("text.embed.tokens.weight", "text_model.embeddings.token_embedding.weight"),
    rule("text.embed.positions.weight", "text_model.embeddings.position_embedding.weight"),
    *_blocks("text.encoder.blocks.{t}", "text_model.encoder.layers.{t}"),
    *linear("text.encoder.final_norm", "text_model.final_layer_norm"),
    rule("vision.embed.class_token", "vision_model.embeddings.class_embedding"),
    rule("vision.embed.positions", "vision_model.embeddings.position_embedding.weight"),
    rule("vision.embed.project.weight", "vision_model.embeddings.patch_embedding.weight"),
    *linear("vision.embed.norm", "vision_model.pre_layrnorm"),
    *_blocks("vision.encoder.blocks.{v}", "vision_model.encoder.layers.{v}"),
    *linear("vision.encoder.final_norm", "vision_model.post_layernorm"),
    rule("text_projection.weight", "text_projection.weight"),
    rule("vision_projection.weight", "visual_projection.weight"),
    rule("logit_scale", "logit_scale"),
]
IGNORED = ("text_model.embeddings.position_ids", "vision_model.embeddings.position_ids")


FAMILY = Family(
    name="clip",
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
    build=build,
    heads=lambda cfg: 0,  # no per-head layouts here; each tower's config has its own heads
)
