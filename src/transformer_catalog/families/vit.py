"""ViT (Dosovitskiy et al., 2020): a pre-norm Transformer encoder over 16x16 (or 14x14) image
patches with a class token, learned positions and exact GELU. Checkpoint mapping below; the
pooler and classifier heads are not converted."""

from __future__ import annotations

from ..nn.config import (
    AttentionConfig,
    EmbeddingConfig,
    FFNConfig,
    ModelConfig,
    NormConfig,
    PositionConfig,
    VisionConfig,
)
from ._family import Family
from ._hf import ACTIVATIONS_BACK, activation, encoder_layers
from ._rules import linear, rule

HF_MODEL_TYPES = ("vit",)
HF_WRAPPER_PREFIXES = ("vit.",)
HF_PREFIX = ""
DEFAULTS = dict(
    model_type="vit",
    image_size=224,
    patch_size=16,
    num_channels=3,
    hidden_act="gelu",
    layer_norm_eps=1e-12,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
    qkv_bias=True,
)
layers = encoder_layers


def config_from_hf(hf: dict) -> ModelConfig:
    hf = {**DEFAULTS, **hf}
    vision = VisionConfig(image_size=hf["image_size"], patch_size=hf["patch_size"], channels=hf["num_channels"])
    return ModelConfig(
        arch="encoder",
        d_model=hf["hidden_size"],
        n_encoder_layers=hf["num_hidden_layers"],
        n_decoder_layers=0,
        dropout=hf["hidden_dropout_prob"],
        attention=AttentionConfig(
            n_heads=hf["num_attention_heads"], dropout=hf["attention_probs_dropout_prob"], qkv_bias=bool(hf["qkv_bias"])
        ),
        position=PositionConfig(kind="none", max_len=vision.n_patches + 1),
        norm=NormConfig(placement="pre", final=True, eps=hf["layer_norm_eps"]),
        ffn=FFNConfig(d_ff=hf["intermediate_size"], activation=activation(hf, "hidden_act")),
        embedding=EmbeddingConfig(vocab_size=1, scale=False, tie_output=False),
        vision=vision,
    )


def config_to_hf(cfg: ModelConfig, model_type: str) -> dict:
    v = cfg.vision
    return {
        "model_type": "vit",
        "architectures": ["ViTModel"],
        "hidden_size": cfg.d_model,
        "num_hidden_layers": cfg.n_encoder_layers,
        "num_attention_heads": cfg.attention.n_heads,
        "intermediate_size": cfg.ffn.d_ff,
        "hidden_act": ACTIVATIONS_BACK[cfg.ffn.activation],
        "image_size": v.image_size,
        "patch_size": v.patch_size,
        "num_channels": v.channels,
        "layer_norm_eps": cfg.norm.eps,
        "qkv_bias": cfg.attention.qkv_bias,
        "hidden_dropout_prob": cfg.dropout,
        "attention_probs_dropout_prob": cfg.attention.dropout,
    }


B, H = "encoder.blocks.{i}", "encoder.layer.{i}"
RULES = [
    rule("embed.class_token", "embeddings.cls_token"),
    rule("embed.positions", "embeddings.position_embeddings"),
    *linear("embed.project", "embeddings.patch_embeddings.projection"),
    *linear(f"{B}.self_attn.q_proj", f"{H}.attention.attention.query"),
    *linear(f"{B}.self_attn.k_proj", f"{H}.attention.attention.key"),
    *linear(f"{B}.self_attn.v_proj", f"{H}.attention.attention.value"),
    *linear(f"{B}.self_attn.out_proj", f"{H}.attention.output.dense"),
    *linear(f"{B}.self_attn_norm", f"{H}.layernorm_before"),
    *linear(f"{B}.ffn.up", f"{H}.intermediate.dense"),
    *linear(f"{B}.ffn.down", f"{H}.output.dense"),
    *linear(f"{B}.ffn_norm", f"{H}.layernorm_after"),
    *linear("encoder.final_norm", "layernorm"),
]
IGNORED = ("pooler.*", "classifier.*")


FAMILY = Family(
    name="vit",
    defaults=DEFAULTS,
    hf_model_types=HF_MODEL_TYPES,
    config_from_hf=config_from_hf,
    config_to_hf=config_to_hf,
    rules=lambda cfg: RULES,
    layers=layers,
    ignored=IGNORED,
    hf_prefix=HF_PREFIX,
    hf_wrapper_prefixes=HF_WRAPPER_PREFIXES,
)
