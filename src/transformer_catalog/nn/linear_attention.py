"""Causal linear attention (Katharopoulos et al., 2020, "Transformers are RNNs").

softmax(q . k) is replaced by the kernel phi(q) . phi(k) with phi(x) = elu(x) + 1 (positive, so every
denominator is > 0):

  y_i = phi(q_i)^T S_i / phi(q_i)^T z_i,   S_i = sum_{j <= i} phi(k_j) v_j^T,   z_i = sum_{j <= i} phi(k_j)

Three forms compute the same numbers (tests hold them to each other within 1e-5):
  parallel   A = (phi(Q) phi(K)^T) masked causally, y = A V / A 1: quadratic, like attention; it takes
             any boolean mask (padding, a prefix-LM mask), so it is the form used when one is given
  recurrent  the RNN: a (d x (d_v + 1)) state per head updated once per token, O(1) per decoded token
             whatever the context; the decoding form (the state lives in the KV cache's place)
  chunked    blocks of C tokens: inside a block the parallel form, across blocks the state; O(T C d)
             time and O(T d) memory, the training form at long lengths

The normaliser rides along as one extra value column: v' = [v, 1] gives S' = [S, z] in one matmul.
As a mixer in a rope model it leaves queries and keys unrotated (see LinearAttention.forward).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import TcatError
from .config import ModelConfig
from .init import initialised, keep

CHUNK = 64


def feature_map(x: Tensor) -> Tensor:
    """phi(x) = elu(x) + 1 > 0."""
    return F.elu(x) + 1.0


def _with_ones(v: Tensor) -> Tensor:
    return torch.cat([v, v.new_ones(*v.shape[:-1], 1)], dim=-1)


def _normalise(y: Tensor) -> Tensor:
    """[numerator, denominator] -> numerator / denominator; a row that sees nothing gives 0."""
    den = y[..., -1:]
    return y[..., :-1] / torch.where(den > 0, den, 1.0)


def linear_parallel(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, causal: bool = True) -> Tensor:
    """q, k: (B, H, Tq, d) / (B, H, Tk, d) feature-mapped already; v: (B, H, Tk, d_v). Causal is aligned
    bottom-right (the queries are the last Tq of Tk positions); mask: bool, True = the key counts."""
    a = q @ k.transpose(-2, -1)
    n_q, n_k = q.size(-2), k.size(-2)
    if causal:
        a = a * torch.ones(n_q, n_k, dtype=torch.bool, device=q.device).tril(n_k - n_q)
    if mask is not None:
        a = a * mask
    return _normalise(a @ _with_ones(v))


def linear_recurrent(q: Tensor, k: Tensor, v: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Token by token: returns the outputs and the final state (B, H, d, d_v + 1), which the next call
    continues from."""
    B, H, T, d = q.shape
    s = q.new_zeros(B, H, d, v.size(-1) + 1) if state is None else state
    vv, out = _with_ones(v), []
    for t in range(T):
        s = s + k[:, :, t, :, None] * vv[:, :, t, None, :]
        out.append((q[:, :, t, None, :] @ s)[:, :, 0])
    return _normalise(torch.stack(out, dim=2)), s


def linear_chunked(
    q: Tensor, k: Tensor, v: Tensor, state: Tensor | None = None, chunk: int = CHUNK
) -> tuple[Tensor, Tensor]:
    """The parallel form inside blocks of `chunk` tokens, the state across them; same result as the others."""
    B, H, T, d = q.shape
    s = q.new_zeros(B, H, d, v.size(-1) + 1) if state is None else state
    vv, out = _with_ones(v), []
    for c in range(0, T, chunk):
        qc, kc, vc = q[:, :, c : c + chunk], k[:, :, c : c + chunk], vv[:, :, c : c + chunk]
        n = qc.size(2)
        inside = (qc @ kc.transpose(-2, -1)) * torch.ones(n, n, dtype=torch.bool, device=q.device).tril()
        out.append(qc @ s + inside @ vc)
        s = s + kc.transpose(-2, -1) @ vc
    return _normalise(torch.cat(out, dim=2)), s


def last_row_keys(mask: Tensor, batch: int, n_keys: int) -> Tensor:
    """(B, Tk) float: which keys the last query may see. With left padding (how generate pads a batch of
    prompts) that is exactly the real tokens; a causal mixer never sees right padding at all."""
    m = mask.reshape((1,) * (4 - mask.dim()) + tuple(mask.shape))[:, :, -1, :]
    if m.size(1) != 1:
        raise TcatError("a linear or Hyena mixer takes one padding mask for all heads, not a per-head mask")
    return m[:, 0].expand(batch, n_keys).float()


@initialised(keep)  # its parameters are the Linears' (Xavier, by their own rule)
class LinearAttention(nn.Module):
    """A sequence mixer in the place of causal self-attention (config mixer: linear): the same four
    projections and heads, the kernel phi instead of softmax. With a KV cache the layer's cache holds the
    recurrent state (`state`) instead of keys and values, so a decoding step costs the same at any length."""

    def __init__(self, cfg: ModelConfig, layer: int = 0):
        super().__init__()
        a = cfg.attention
        d, hd = cfg.d_model, cfg.head_dim
        self.n_heads, self.n_kv_heads, self.head_dim = a.n_heads, cfg.n_kv_heads, hd
        self.chunk = CHUNK
        self.q_proj = nn.Linear(d, a.n_heads * hd, bias=a.qkv_bias)
        self.k_proj = nn.Linear(d, self.n_kv_heads * hd, bias=a.qkv_bias)
        self.v_proj = nn.Linear(d, self.n_kv_heads * hd, bias=a.qkv_bias)
        self.out_proj = nn.Linear(a.n_heads * hd, d, bias=a.out_bias)
        self.hooks = None  # hook points are attention's (patterns); this mixer has none

    def _heads(self, x: Tensor, n: int) -> Tensor:
        B, T, _ = x.shape
        return x.view(B, T, n, self.head_dim).transpose(1, 2)

    def forward(self, x, context=None, mask=None, causal=True, cache=None, positions=None, memory=None) -> Tensor:
        if memory is not None or context is not None:
            raise TcatError("a linear-attention mixer has no cross-attention or segment memory")
        if cache is not None and not isinstance(cache.length, int):
            raise TcatError("a linear-attention mixer keeps a recurrent state, not a static KV cache (no --compile)")
        q = self._heads(self.q_proj(x), self.n_heads)
        k = self._heads(self.k_proj(x), self.n_kv_heads)
        v = self._heads(self.v_proj(x), self.n_kv_heads)
        # No rotary positions: phi(R_i q) . phi(R_j k) is not a function of i - j (the feature map breaks the
        # rotation's relativity), so a left-padded row would shift every score. Order comes from causality
        # (and from absolute positions added to the embeddings, where the model has them).
        if self.n_kv_heads != self.n_heads:
            group = self.n_heads // self.n_kv_heads
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        q, k = feature_map(q), feature_map(k)
        state = None if cache is None else cache.state
        if cache is None and (mask is not None or not causal):
            y = linear_parallel(q, k, v, mask, causal)  # any mask, exactly as attention would apply it
        else:
            if mask is not None:  # padding in a cached batch: zero the keys the last query may not see
                seen = last_row_keys(mask, x.size(0), (0 if cache is None else cache.length) + x.size(1))
                w = seen[:, None, -x.size(1) :, None]
                k, v = k * w, v * w
            y, state = linear_chunked(q, k, v, state, self.chunk)
        if cache is not None:
            cache.state, cache.length = state, cache.length + x.size(1)
        B, H, T, d = y.shape
        return self.out_proj(y.transpose(1, 2).reshape(B, T, H * d))


__all__ = ["LinearAttention", "feature_map", "linear_chunked", "linear_parallel", "linear_recurrent"]
