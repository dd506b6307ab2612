"""Two towers and a contrastive head (CLIP; Radford et al., 2021): a text encoder and an image
encoder, each pooled to one vector, projected to a shared space and compared by cosine similarity
scaled by a learned temperature. Trained with the symmetric InfoNCE loss over a batch of pairs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import ModelConfig
from .model import build_model


@dataclass
class DualEncoderConfig:
    text: ModelConfig
    vision: ModelConfig
    projection_dim: int = 512
    logit_scale_init: float = math.log(1 / 0.07)
    eos_id: int = 2
    # Where the text vector is read: at the first end-of-text token ("eos"), or at the highest token
    # id ("argmax": CLIP's original rule, where end-of-text was the last id of the vocabulary).
    text_pool: Literal["eos", "argmax"] = "eos"
    # What callers dispatch on, as for ModelConfig.arch (a class constant: not a config field, not saved).
    arch: ClassVar[str] = "dual encoder"

    @classmethod
    def from_dict(cls, data: dict) -> DualEncoderConfig:
        from ..errors import TcatError

        known = {"text", "vision", "projection_dim", "logit_scale_init", "eos_id", "text_pool"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TcatError(
                f"model config: {unknown[0]}: unknown field of a two-tower model (known: {', '.join(sorted(known))})"
            )
        if data.get("text_pool", "eos") not in ("eos", "argmax"):
            raise TcatError(f"model config: text_pool: {data['text_pool']!r} is not one of ['eos', 'argmax']")
        rest = {k: v for k, v in data.items() if k not in ("text", "vision")}
        return cls(text=ModelConfig.from_dict(data["text"]), vision=ModelConfig.from_dict(data["vision"]), **rest)

    def to_dict(self) -> dict:
        return {
            "text": self.text.to_dict(),
            "vision": self.vision.to_dict(),
            "projection_dim": self.projection_dim,
            "logit_scale_init": self.logit_scale_init,
            "eos_id": self.eos_id,
            "text_pool": self.text_pool,
        }


class DualEncoder(nn.Module):
    def __init__(self, cfg: DualEncoderConfig):
        super().__init__()
        self.config = cfg
        self.text = build_model(cfg.text)
        self.vision = build_model(cfg.vision)
        self.text_projection = nn.Linear(cfg.text.d_model, cfg.projection_dim, bias=False)
        self.vision_projection = nn.Linear(cfg.vision.d_model, cfg.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(cfg.logit_scale_init))

    def encode_text(self, ids: Tensor) -> Tensor:
        hidden = self.text(ids, keep=torch.ones_like(ids, dtype=torch.bool))
        if self.config.text_pool == "argmax":
            where = ids.argmax(dim=-1)
        else:
            where = (ids == self.config.eos_id).int().argmax(dim=-1)  # first end-of-text token
        return self.text_projection(hidden[torch.arange(ids.size(0)), where])

    def encode_image(self, pixels: Tensor) -> Tensor:
        return self.vision_projection(self.vision(pixels)[:, 0])  # the class token, after the final norm

    def forward(self, ids: Tensor, pixels: Tensor) -> Tensor:
        """Similarity logits (images, texts): exp(logit_scale) * cosine."""
        text = F.normalize(self.encode_text(ids), dim=-1)
        image = F.normalize(self.encode_image(pixels), dim=-1)
        return self.logit_scale.exp() * image @ text.t()


def contrastive_loss(logits: Tensor) -> Tensor:
    """Symmetric InfoNCE: pair i is the positive for row i and column i, every other pair a negative."""
    target = torch.arange(logits.size(0), device=logits.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2


def build_dual(cfg: DualEncoderConfig, device=None) -> DualEncoder:
    with torch.device(device or "cpu"):
        return DualEncoder(cfg)


def config_from_dict(data: dict):
    """A ModelConfig, or a DualEncoderConfig for a two-tower model (a dict with text and vision towers)."""
    if isinstance(data, dict) and "text" in data and "vision" in data:
        return DualEncoderConfig.from_dict(data)
    return ModelConfig.from_dict(data)


def build_any(cfg, device=None) -> nn.Module:
    """build_model for one stack, build_dual for two towers."""
    return build_dual(cfg, device) if isinstance(cfg, DualEncoderConfig) else build_model(cfg, device)
