"""Multi-head latent attention (DeepSeek-V2, arXiv 2405.04434; DeepSeek-V3): the KV cache holds a
low-rank latent instead of every head's keys and values.

Per token, one down-projection gives a latent c (kv_rank numbers, RMS-normalised) and one shared
key part k_rope (rope_dim numbers, rotated by position: "decoupled RoPE"). Every head's keys are
[W_k^h c ; k_rope] and its values W_v^h c, rebuilt from the cache at each step, so the cache costs
kv_rank + rope_dim numbers per token and layer against 2 x heads x head_dim for multi-head
attention. Queries come straight from the hidden state or through their own latent (q_rank), and
split the same way into unrotated and rotated parts. Here the rotated part comes first in each
head (q.k is a sum over dimensions, so the order is ours to choose): the stack's rotary scheme
then rotates exactly it.

The cache is the ordinary LayerCache with the latent in its key slot and k_rope in its value slot
(shapes (B, 1, T, kv_rank) and (B, 1, T, rope_dim)). Decoding attends on the cached latent itself:
the key up-projection is folded into the queries and the value up-projection applied after the
weighted sum (the paper's absorption), so no per-head key or value is rebuilt; without a cache (and
while hooks read per-head q, k, v) keys and values are expanded per head, the reference path the
tests hold the cached one to.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .attention import LayerCache, MultiHeadAttention, attend, combine_masks
from .config import ModelConfig
from .layers import RMSNorm
from .positions import Positions


class LatentAttention(nn.Module):
    """Causal self-attention through a compressed KV latent (attention.latent). Parameter names:
    q_proj (no query latent) or q_down, q_norm, q_up; kv_down (to latent + k_rope), kv_norm,
    kv_up (latent to every head's unrotated key and value), out_proj."""

    def __init__(self, cfg: ModelConfig, cross: bool = False, layer: int = 0):
        super().__init__()
        a, lat, d = cfg.attention, cfg.attention.latent, cfg.d_model
        self.n_heads, self.head_dim, self.layer = a.n_heads, cfg.head_dim, layer
        self.rope, self.v_dim, self.rank = lat.rope_dim, lat.v_head_dim, lat.kv_rank
        self.nope = cfg.head_dim - lat.rope_dim
        self.dropout, self.backend, self.scale = a.dropout, a.backend, a.scale
        self.window = a.window if cfg.local_at(layer) else None
        self.rotates = cfg.position.kind == "rope" and cfg.rotates_at(layer)
        q_out = a.n_heads * cfg.head_dim
        if lat.q_rank:
            self.q_down = nn.Linear(d, lat.q_rank, bias=a.qkv_bias)
            self.q_norm = RMSNorm(lat.q_rank, lat.norm_eps)
            self.q_up = nn.Linear(lat.q_rank, q_out, bias=False)
            self.q_proj = None
        else:
            self.q_proj = nn.Linear(d, q_out, bias=False)
        self.kv_down = nn.Linear(d, lat.kv_rank + lat.rope_dim, bias=a.qkv_bias)
        self.kv_norm = RMSNorm(lat.kv_rank, lat.norm_eps)
        self.kv_up = nn.Linear(lat.kv_rank, a.n_heads * (self.nope + lat.v_head_dim), bias=False)
        self.out_proj = nn.Linear(a.n_heads * lat.v_head_dim, d, bias=a.out_bias)
        self.hooks = None  # a hooks.Tap while hooks are installed (nn/hooks.py)
        self.hook_scope = "attn"

    def queries(self, x: Tensor) -> Tensor:
        """(B, H, T, head_dim) queries laid out [rotated ; unrotated] per head."""
        B, T, _ = x.shape
        q = self.q_proj(x) if self.q_proj is not None else self.q_up(self.q_norm(self.q_down(x)))
        return q.view(B, T, self.n_heads, self.head_dim).transpose(1, 2)

    def keys_values(self, latent: Tensor, k_rope: Tensor) -> tuple[Tensor, Tensor]:
        """Every head's keys [k_rope ; W_k c] and values W_v c from the latent c (B, 1, T, kv_rank)."""
        B, _, T, _ = latent.shape
        kv = self.kv_up(latent[:, 0]).view(B, T, self.n_heads, self.nope + self.v_dim).transpose(1, 2)
        k_nope, v = kv.split([self.nope, self.v_dim], dim=-1)
        return torch.cat([k_rope.expand(-1, self.n_heads, -1, -1), k_nope], dim=-1), v

    def _absorbed(self, q: Tensor, latent: Tensor, k_rope: Tensor, mask, causal: bool, dropout_p: float) -> Tensor:
        """The same attention without rebuilding any head's keys or values (the paper's absorption):
        head h's unrotated score q . (W_k c) is (W_k^T q) . c, and its output sum_j a_j W_v c_j is
        W_v (sum_j a_j c_j). Each cached token then costs kv_rank + rope_dim numbers per head and
        step, instead of an up-projection to heads x (unrotated key + value) numbers."""
        H = self.n_heads
        w = self.kv_up.weight.view(H, self.nope + self.v_dim, self.rank)
        w_k, w_v = w[:, : self.nope], w[:, self.nope :]  # (H, nope, rank), (H, v_dim, rank)
        q_latent = torch.einsum("bhtn,hnr->bhtr", q[..., self.rope :], w_k)
        queries = torch.cat([q[..., : self.rope], q_latent], dim=-1)  # (B, H, T, rope + rank)
        keys = torch.cat([k_rope, latent], dim=-1)  # (B, 1, Tk, rope + rank): one "head" shared by all
        scale = self.scale if self.scale is not None else self.head_dim**-0.5  # the head's, not rope + rank
        if queries.size(2) == 1 and self.window is None:
            # one new position: the heads are just H queries at that position over the same keys, so they
            # share one attention call over the un-copied latent (a padding mask broadcasts over them)
            B = queries.size(0)
            mixed = attend(queries.view(B, 1, H, -1), keys, latent, mask, False, dropout_p, self.backend, None, scale)
            mixed = mixed.view(B, H, 1, -1)
        else:
            keys, values = keys.expand(-1, H, -1, -1), latent.expand(-1, H, -1, -1)
            mixed = attend(queries, keys, values, mask, causal, dropout_p, self.backend, None, scale, self.window)
        return torch.einsum("bhtr,hvr->bhtv", mixed, w_v)

    def forward(
        self,
        x: Tensor,
        context: Tensor | None = None,
        mask: Tensor | None = None,
        causal: bool = False,
        cache: LayerCache | None = None,
        positions: Positions | None = None,
        memory: Tensor | None = None,
    ) -> Tensor:
        B, T, _ = x.shape
        q = self.queries(x)
        latent, k_rope = self.kv_down(x).split([self.rank, self.rope], dim=-1)
        latent, k_rope = self.kv_norm(latent)[:, None], k_rope[:, None]  # one "head" each: (B, 1, T, .)
        if positions is not None and self.rotates:
            q_rope, k_rope = positions.rotate(q[..., : self.rope], k_rope)
            q = torch.cat([q_rope, q[..., self.rope :]], dim=-1)
        if cache is not None:  # the cache keeps the latent and the rotated shared key, nothing per head
            latent, k_rope = cache.append(latent, k_rope)
            filled = cache.visible(T)
            if filled is not None:
                mask, causal = combine_masks(mask, filled), False
        h = self.hooks
        dropout_p = self.dropout if self.training else 0.0
        if cache is not None and h is None:  # decoding: attend on the cached latent itself
            y = self._absorbed(q, latent, k_rope, mask, causal, dropout_p)
            return self.out_proj(y.transpose(1, 2).reshape(B, T, self.n_heads * self.v_dim))
        k, v = self.keys_values(latent, k_rope)
        if h is not None:
            q, k, v = MultiHeadAttention._hook_qkv(self, h, q, k, v)
        tap = None if h is None else MultiHeadAttention._eager_tap(self, h)
        y = attend(q, k, v, mask, causal, dropout_p, self.backend, None, self.scale, self.window, tap)
        if h is not None:
            return MultiHeadAttention._hooked_output(self, h, y)
        return self.out_proj(y.transpose(1, 2).reshape(B, T, self.n_heads * self.v_dim))
