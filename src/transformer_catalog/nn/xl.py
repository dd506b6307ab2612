"""Transformer-XL (Dai et al., 2019): relative positional attention and segment-level recurrence.

Attention logits (section 3.3), for query i and key j at distance i - j:
    (q_i + u) . k_j  +  (q_i + v) . W_R R_{i-j}
R is the sinusoid of the distance, W_R a per-layer projection, u and v learned per-head vectors
that replace the query's position term. Nothing is added to the token embeddings.

Recurrence (section 3.2): each layer also attends to the hidden states its input had over the
last `memory` positions of the previous segment, kept without gradient, so context reaches
N x memory tokens back while each segment is trained alone."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .layers import _fixed_table
from .positions import PositionScheme, scheme


@scheme("xl")
class RelativeSinusoids(PositionScheme):
    """R_d for distances d = 0 .. max_len - 1: sines in the first half, cosines in the second. One
    table per stack; every self-attention layer projects it with its own W_R and adds u and v."""

    attribute = "xl"

    def __init__(self, d_model: int, max_len: int):
        super().__init__()

        def make():
            inv_freq = 1.0 / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
            angles = torch.outer(torch.arange(max_len, dtype=torch.float32), inv_freq)
            return torch.cat([angles.sin(), angles.cos()], dim=-1)

        self.register_buffer("table", _fixed_table(make, (max_len, d_model)), persistent=False)

    @classmethod
    def build(cls, cfg, causal: bool) -> RelativeSinusoids:
        return cls(cfg.d_model, cfg.position.max_len + cfg.memory)

    @staticmethod
    def layer_parameters(attention: nn.Module, cfg) -> None:
        """W_R, u and v of one layer (initialised by MultiHeadAttention's rule, N(0, 0.02))."""
        d, h, hd = cfg.d_model, cfg.attention.n_heads, cfg.head_dim
        attention.pos_proj = nn.Linear(d, h * hd, bias=False)
        attention.pos_u = nn.Parameter(torch.empty(h, hd))
        attention.pos_v = nn.Parameter(torch.empty(h, hd))

    def prepare(self, n_queries: int, past: int | Tensor = 0) -> Tensor:
        return self.table

    def bias(self, state: Tensor, q: Tensor, k: Tensor, attention: nn.Module, scale: float) -> Tensor:
        return xl_bias(q, k, attention.pos_proj, attention.pos_u, attention.pos_v, state, scale)


def xl_bias(q: Tensor, k: Tensor, pos_proj: nn.Linear, u: Tensor, v: Tensor, table: Tensor, scale: float) -> Tensor:
    """u . k_j + (q_i + v) . W_R R_{i-j}, scaled like q . k: (B, H, Tq, Tk). Queries are the last Tq
    of the Tk key positions; future keys (masked anyway) read distance 0."""
    H, d, n_q, n_k = q.size(1), q.size(-1), q.size(-2), k.size(-2)
    r = pos_proj(table[:n_k]).view(n_k, H, d).transpose(0, 1)  # (H, Tk distances, d)
    content = u[None, :, None, :] @ k.transpose(-1, -2)  # (B, H, 1, Tk): u . k_j
    by_distance = (q + v[None, :, None, :]) @ r.transpose(-1, -2)  # (B, H, Tq, distance)
    i = torch.arange(n_k - n_q, n_k, device=q.device)[:, None]
    j = torch.arange(n_k, device=q.device)[None, :]
    distance = (i - j).clamp(min=0).expand(q.size(0), H, n_q, n_k)
    return (content + by_distance.gather(-1, distance)) * scale


class Memory:
    """The recurrence state of a decoder: per layer, the (detached) inputs of the last `length`
    positions. Made by model.new_memory(); each forward with it reads and then extends it."""

    def __init__(self, n_layers: int, length: int):
        self.length = length
        self.layers: list[Tensor | None] = [None] * n_layers

    def update(self, i: int, hidden: Tensor) -> None:
        old = self.layers[i]
        both = hidden if old is None else torch.cat([old, hidden], dim=1)
        self.layers[i] = both[:, -self.length :].detach()  # no gradient into the previous segment
