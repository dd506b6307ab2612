"""Position-wise pieces: positional encodings (section 3.5), feed-forward (3.3), normalisation."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import FFNConfig, NormConfig, PositionConfig


class SinusoidalPositions(nn.Module):
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)).

    A fixed table, kept out of the state dict (it is not learned, so it is not a parameter).
    """

    def __init__(self, d_model: int, max_len: int):
        super().__init__()
        pos = torch.arange(max_len, dtype=torch.float32)[:, None]
        inv_freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
        table = torch.zeros(max_len, d_model)
        table[:, 0::2] = torch.sin(pos * inv_freq)
        table[:, 1::2] = torch.cos(pos * inv_freq[: d_model // 2])
        self.register_buffer("table", table, persistent=False)

    def forward(self, length: int, offset: int = 0) -> Tensor:
        return self.table[offset : offset + length]


class LearnedPositions(nn.Module):
    """One learned vector per position (the paper's variant in Table 3 row E; BERT, GPT)."""

    def __init__(self, d_model: int, max_len: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(max_len, d_model).normal_(std=0.02))

    def forward(self, length: int, offset: int = 0) -> Tensor:
        return self.weight[offset : offset + length]


def make_positions(d_model: int, cfg: PositionConfig) -> nn.Module | None:
    if cfg.kind == "sinusoidal":
        return SinusoidalPositions(d_model, cfg.max_len)
    if cfg.kind == "learned":
        return LearnedPositions(d_model, cfg.max_len)
    return None


def make_norm(d_model: int, cfg: NormConfig) -> nn.Module:
    return nn.LayerNorm(d_model, eps=cfg.eps)


_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class FeedForward(nn.Module):
    """FFN(x) = act(x W1 + b1) W2 + b2, applied to each position separately (section 3.3)."""

    def __init__(self, d_model: int, cfg: FFNConfig, dropout: float):
        super().__init__()
        self.up = nn.Linear(d_model, cfg.d_ff, bias=cfg.bias)
        self.down = nn.Linear(cfg.d_ff, d_model, bias=cfg.bias)
        self.act = _ACTIVATIONS[cfg.activation]
        # nn.Transformer (and tensor2tensor) also drop out the hidden activation; the paper is
        # silent. We follow them so that training matches the common reference implementation.
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.down(self.dropout(self.act(self.up(x))))
