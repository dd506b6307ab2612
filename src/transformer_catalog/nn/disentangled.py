"""DeBERTa's disentangled attention (He et al., 2020; the v2/v3 layout).

Content and position are kept apart: besides content-to-content (q_i . k_j), each logit gets
content-to-position (q_i . K_r[d]) and position-to-content (k_j . Q_r[d]) terms, where d is the
bucketed offset i - j and K_r, Q_r are one shared table of relative-position embeddings passed
through the layer's own key and query projections. All three terms are scaled by 1/sqrt(3 d_head).
Nothing is added to the token embeddings. Offsets beyond relative_buckets / 2 share log-spaced buckets
up to relative_max_distance (DeBERTa-v2's position_buckets and max_relative_positions)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .config import NormConfig, PositionConfig
from .init import initialised, normal
from .positions import PositionScheme, scheme


def log_bucket(rel: Tensor, buckets: int, max_distance: int) -> Tensor:
    """Offsets within +-buckets/2 keep their value; larger ones map, sign kept, onto log-spaced
    values up to buckets - 1 at max_distance."""
    mid = buckets // 2
    size = rel.abs()
    log_pos = (
        torch.ceil(torch.log(size.clamp(min=mid).float() / mid) / math.log((max_distance - 1) / mid) * (mid - 1)) + mid
    )
    return torch.where(size <= mid, rel, (log_pos * rel.sign()).long())


@scheme("disentangled")
@initialised(normal(0.02))  # the table; its LayerNorm starts as constructed
class DisentangledPositions(PositionScheme):
    """The stack's shared relative-position table (2 * span rows, LayerNorm-ed) and, per forward, the
    row each (query, key) pair reads; each layer passes the table through its own projections."""

    attribute = "disentangled"

    def __init__(self, d_model: int, cfg: PositionConfig, norm: NormConfig):
        super().__init__()
        self.buckets, self.max_distance = cfg.relative_buckets, cfg.relative_max_distance
        self.span = cfg.relative_buckets if cfg.relative_buckets > 0 else cfg.relative_max_distance
        self.weight = nn.Parameter(torch.empty(2 * self.span, d_model))
        self.norm = nn.LayerNorm(d_model, eps=norm.eps)

    @classmethod
    def build(cls, cfg, causal: bool) -> DisentangledPositions:
        return cls(cfg.d_model, cfg.position, cfg.norm)

    def bias(self, state, q: Tensor, k: Tensor, attention: nn.Module, scale: float) -> Tensor:
        return disentangled_bias(q, k, attention.q_proj, attention.k_proj, *state, scale)

    def prepare(self, n: int, past: int | Tensor = 0) -> tuple[Tensor, Tensor]:
        """The normalised table and the row index (n, n) of each (query, key) pair (no cache: an encoder)."""
        pos = torch.arange(n, device=self.weight.device)
        rel = pos[:, None] - pos[None, :]  # query minus key
        if self.buckets > 0:
            rel = log_bucket(rel, self.buckets, self.max_distance)
        return self.norm(self.weight), (rel + self.span).clamp(0, 2 * self.span - 1)


def disentangled_bias(
    q: Tensor, k: Tensor, q_proj: nn.Linear, k_proj: nn.Linear, table: Tensor, index: Tensor, scale: float
) -> Tensor:
    """The content-to-position + position-to-content logits, (B, H, T, T), for q and k (B, H, T, d)."""
    H, d = q.size(1), q.size(-1)
    pos_k = k_proj(table).view(-1, H, d).transpose(0, 1)  # (H, 2 span, d)
    pos_q = q_proj(table).view(-1, H, d).transpose(0, 1)
    B, T = q.size(0), q.size(2)
    c2p = (q @ pos_k.transpose(-1, -2)).gather(-1, index.expand(B, H, T, T))  # q_i . K_r[row(i, j)]
    p2c = (
        (k @ pos_q.transpose(-1, -2)).gather(-1, index.t().expand(B, H, T, T)).transpose(-1, -2)
    )  # k_j . Q_r[row(i, j)]
    return (c2p + p2c) * scale
