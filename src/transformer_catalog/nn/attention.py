"""Multi-head scaled dot-product attention (paper, section 3.2), masks and the KV cache.

Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V, run in h heads of size d_k = d_model / h.
Two interchangeable backends compute it: `eager_attention` spells the formula out and is the
reference the tests hold `torch.nn.functional.scaled_dot_product_attention` (SDPA) to.

Masks are boolean and say where attention is *allowed* (True = attend), broadcastable to
(batch, heads, queries, keys): the convention SDPA uses.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import ModelConfig
from .init import initialised, normal
from .layers import HeadwiseNorm, make_norm
from .masks import (  # noqa: F401  (re-exported: the masks lived here)
    causal_mask,
    chunk_mask,
    combine_masks,
    local_mask,
    nope_temperature,
    padding_mask,
    window_mask,
)
from .positions import Positions, scheme_for
from .sparse import block_sparse_mask
from .tiled import tiled_attention


# -- the two backends ----------------------------------------------------------------------------
def eager_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None,
    dropout_p: float = 0.0,
    bias: Tensor | None = None,
    scale: float | None = None,
    tap=None,
    softcap: float | None = None,
    sinks: Tensor | None = None,
) -> Tensor:
    """The paper's formula, step by step. q: (B, H, Tq, d), k and v: (B, H, Tk, d). `tap(name, x)`
    reads or replaces the scores and the pattern (hook points, nn/hooks.py). `softcap` bounds the
    scaled logits smoothly to (-softcap, softcap) before any bias or mask (Gemma 2)."""
    scores = q @ k.transpose(-2, -1) * (1 / math.sqrt(q.size(-1)) if scale is None else scale)
    if softcap is not None:
        scores = torch.tanh(scores / softcap) * softcap
    if bias is not None:
        scores = scores + bias
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    if tap is not None:
        scores = tap("hook_attn_scores", scores)
    if sinks is None:
        weights = scores.softmax(dim=-1)
    else:  # one more logit per head, which takes probability and brings no value (gpt-oss's sinks)
        sink = sinks.to(scores.dtype).view(1, -1, 1, 1).expand(*scores.shape[:-1], 1)
        weights = torch.cat([scores, sink], dim=-1).softmax(dim=-1)[..., :-1]
    if tap is not None:
        weights = tap("hook_pattern", weights)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v


def attend(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    causal: bool = False,
    dropout_p: float = 0.0,
    backend: str = "sdpa",
    bias: Tensor | None = None,
    scale: float | None = None,
    window: int | None = None,
    tap=None,
    softcap: float | None = None,
    sinks: Tensor | None = None,
) -> Tensor:
    """Scaled dot-product attention with an optional causal constraint (and sliding window), a
    boolean mask and an additive bias on the logits (T5's relative positions). With `tap` (a hook on
    the scores or the pattern) or `softcap` (which SDPA cannot apply) it is computed eagerly,
    whatever the backend."""
    n_q, n_k = q.size(-2), k.size(-2)
    if backend == "tiled" and tap is None and softcap is None and sinks is None and bias is None and dropout_p == 0.0:
        return tiled_attention(q, k, v, mask, causal, scale, window)  # the window from positions, block by block
    if window is not None and window < n_k:
        if causal:
            mask = combine_masks(mask, window_mask(n_q, n_k, window, q.device))
        else:
            mask = combine_masks(mask, local_mask(n_k, window, q.device))
    if tap is not None or softcap is not None or sinks is not None:  # sinks: SDPA has no extra logit
        backend = "eager"
    if backend == "sdpa" and causal and mask is None and bias is None and n_q == n_k:
        # The common training case: let SDPA pick its fused causal kernel.
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True, scale=scale)
    if causal and n_q > 1:  # a single new query may see every cached key: no mask needed
        mask = combine_masks(mask, causal_mask(n_q, n_k, q.device))
    if backend == "eager":
        return eager_attention(q, k, v, mask, dropout_p, bias, scale, tap, softcap, sinks)
    if bias is not None:  # SDPA takes one float mask: the bias with -inf where attention is not allowed
        mask = bias if mask is None else bias.masked_fill(~mask, float("-inf"))
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, scale=scale)


# -- the KV cache ----------------------------------------------------------------------------------
class LayerCache:
    """What one decoder layer remembers between decoding steps.

    Self-attention keys/values grow by a position per step. They are written in place into
    preallocated buffers that double when full (one copy per doubling), and attention reads a view
    of the filled part: appending a step costs no reallocation of the whole cache, as torch.cat
    would. Cross-attention keys/values depend only on the encoder output, so they are computed at
    the first step and reused.
    """

    def __init__(self):
        self._k: Tensor | None = None
        self._v: Tensor | None = None
        self.length = 0
        self.state: Tensor | None = None  # a linear-attention mixer's recurrent state (nn/linear_attention.py)
        self.cross_k: Tensor | None = None
        self.cross_v: Tensor | None = None

    @property
    def k(self) -> Tensor | None:
        return None if self._k is None else self._k[:, :, : self.length]

    @property
    def v(self) -> Tensor | None:
        return None if self._v is None else self._v[:, :, : self.length]

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Add (B, H, T, d) keys and values; return all of them so far (views of the buffers)."""
        end = self.length + k.size(-2)
        if self._k is None or end > self._k.size(-2) or self._k.dtype != k.dtype:
            capacity = max(64, 2 * end)
            grown_k = k.new_empty(*k.shape[:2], capacity, k.size(-1))
            grown_v = v.new_empty(*v.shape[:2], capacity, v.size(-1))
            if self.length:
                grown_k[:, :, : self.length] = self._k[:, :, : self.length]
                grown_v[:, :, : self.length] = self._v[:, :, : self.length]
            self._k, self._v = grown_k, grown_v
        self._k[:, :, self.length : end] = k
        self._v[:, :, self.length : end] = v
        self.length = end
        return self._k[:, :, :end], self._v[:, :, :end]

    def visible(self, n_queries: int) -> None:
        """No mask of filled places: the keys returned are exactly the filled ones (the causal
        constraint, aligned bottom-right, does the rest)."""
        return None

    def reorder(self, index: Tensor) -> None:
        """Keep batch rows `index` (beam search reorders hypotheses every step)."""
        for name in ("_k", "_v", "cross_k", "cross_v", "state"):
            t = getattr(self, name)
            if t is not None:
                setattr(self, name, t.index_select(0, index))


class KVCache:
    """The cache of a whole decoder: one LayerCache per layer. Made by the generator, not the model."""

    def __init__(self, n_layers: int):
        self.layers = [LayerCache() for _ in range(n_layers)]

    @property
    def length(self) -> int:
        return self.layers[0].length

    def reorder(self, index: Tensor) -> None:
        for layer in self.layers:
            layer.reorder(index)


class StaticLayerCache:
    """One layer's keys and values in buffers of a fixed size (batch, kv heads, max_len, head_dim).
    Shapes never change while decoding, so a compiled decoding step is compiled once; the position
    is a 0-d tensor shared with the other layers (StaticKVCache), and attention is masked to the
    filled part."""

    def __init__(self, owner: StaticKVCache, k: Tensor, v: Tensor):
        self.owner, self.k, self.v = owner, k, v
        self.cross_k = self.cross_v = None

    @property
    def length(self) -> Tensor:
        return self.owner.position

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        where = self.owner.position + torch.arange(k.size(-2), device=k.device)
        self.k.index_copy_(2, where, k.to(self.k.dtype))
        self.v.index_copy_(2, where, v.to(self.v.dtype))
        return self.k, self.v

    def visible(self, n_queries: int) -> Tensor:
        """(n_queries, max_len): query i (at position + i) sees the keys up to itself."""
        queries = self.owner.position + torch.arange(n_queries, device=self.k.device)
        return torch.arange(self.k.size(-2), device=self.k.device)[None, :] <= queries[:, None]


class StaticKVCache:
    """A decoder's cache for compiled decoding: fixed-size buffers and a position tensor that the
    generator advances after each step (`advance`)."""

    def __init__(
        self, n_layers: int, batch: int, n_kv_heads: int, max_len: int, head_dim: int, dtype=torch.float32, device=None
    ):
        self.position = torch.zeros((), dtype=torch.long, device=device)
        shape = (batch, n_kv_heads, max_len, head_dim)
        self.layers = [
            StaticLayerCache(
                self, torch.zeros(shape, dtype=dtype, device=device), torch.zeros(shape, dtype=dtype, device=device)
            )
            for _ in range(n_layers)
        ]

    @property
    def length(self) -> Tensor:
        return self.position

    def advance(self, n: int) -> None:
        self.position += n


# -- the module --------------------------------------------------------------------------------------
@initialised(normal(0.02))  # its own parameters are position terms (Transformer-XL's u, v); projections are Linears
class MultiHeadAttention(nn.Module):
    """MultiHead(Q, K, V) = Concat(head_1..head_h) W^O, head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V).

    With n_kv_heads < n_heads, groups of query heads share one key/value head (GQA; MQA when 1):
    the cache holds only the key/value heads. With rope positions, self-attention rotates queries
    and keys by their absolute position (offset by what the cache already holds).
    """

    def __init__(self, cfg: ModelConfig, cross: bool = False, layer: int = 0):
        super().__init__()
        a = cfg.attention
        d, hd = cfg.d_model, cfg.head_dim
        self.n_heads, self.n_kv_heads, self.head_dim = a.n_heads, cfg.n_kv_heads, hd
        self.dropout = a.dropout
        self.backend = a.backend
        self.scale = a.scale
        self.local = cfg.local_at(layer) and not cross
        self.window = a.window if self.local else None
        self.softcap = a.softcap
        self.sinks = nn.Parameter(torch.empty(a.n_heads)) if a.sinks else None  # gpt-oss: a logit per head
        self.rotates = cfg.rotates_at(layer) or cfg.position.kind != "rope"  # False only on rope's NoPE layers
        self.block_sparse, self.layer = (a.block_sparse if not cross else None), layer
        self.q_proj = nn.Linear(d, a.n_heads * hd, bias=a.qkv_bias)
        self.k_proj = nn.Linear(d, self.n_kv_heads * hd, bias=a.qkv_bias)
        self.v_proj = nn.Linear(d, self.n_kv_heads * hd, bias=a.qkv_bias)
        self.out_proj = nn.Linear(a.n_heads * hd, d, bias=a.out_bias)
        # q/k norm: per head over head_dim (Qwen3, Gemma 3), or over all heads' projections (OLMo 2)
        self.qk_norm = "none" if a.qk_norm == "unit" and not cfg.rotates_at(layer) else a.qk_norm
        self.norm_eps = cfg.norm.eps
        # Llama 4: chunks on the layers window_pattern marks local, a temperature on the NoPE layers
        self.chunk = a.chunk if a.window_pattern[layer % len(a.window_pattern)] == "L" and not cross else None
        rope_nope = cfg.position.kind == "rope" and not cfg.rotates_at(layer)
        self.temperature = (a.temperature_floor, a.temperature_scale) if a.temperature_floor and rope_nope else None
        if self.qk_norm in ("head", "all"):
            self.q_norm = make_norm(hd if a.qk_norm == "head" else a.n_heads * hd, cfg.norm)
            self.k_norm = make_norm(hd if a.qk_norm == "head" else self.n_kv_heads * hd, cfg.norm)
        elif self.qk_norm == "head_gains":  # the per-head path of _norm_q / _norm_k, gains per head
            self.q_norm = HeadwiseNorm(a.n_heads, hd, cfg.norm)
            self.k_norm = HeadwiseNorm(self.n_kv_heads, hd, cfg.norm)
        scheme = scheme_for(cfg.position.kind)
        if scheme is not None and not cross:  # per-layer weights of the position scheme (Transformer-XL's)
            scheme.layer_parameters(self, cfg)
        self.hooks = None  # a hooks.Tap while hooks are installed (nn/hooks.py)
        self.hook_scope = "cross_attn" if cross else "attn"

    def _heads(self, x: Tensor, n: int) -> Tensor:  # (B, T, n * hd) -> (B, n, T, hd)
        B, T, _ = x.shape
        return x.view(B, T, n, self.head_dim).transpose(1, 2)

    def _norm_q(self, q: Tensor) -> Tensor:  # (B, T, H * hd), normalised as attention.qk_norm says
        if self.qk_norm == "none":
            return q
        if self.qk_norm == "unit":
            return self._unit(q)
        if self.qk_norm == "all":
            return self.q_norm(q)
        return self.q_norm(q.unflatten(-1, (-1, self.head_dim))).flatten(-2)

    def _norm_k(self, k: Tensor) -> Tensor:
        if self.qk_norm == "none":
            return k
        if self.qk_norm == "unit":
            return self._unit(k)
        if self.qk_norm == "all":
            return self.k_norm(k)
        return self.k_norm(k.unflatten(-1, (-1, self.head_dim))).flatten(-2)

    def _unit(self, x: Tensor) -> Tensor:
        """Each head's vector over its root mean square, no gain (Llama 4's L2 norm), in fp32."""
        heads = x.unflatten(-1, (-1, self.head_dim))
        return F.rms_norm(heads.float(), (self.head_dim,), eps=self.norm_eps).to(x.dtype).flatten(-2)

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
        """Self-attention over x, or cross-attention from x to `context` when it is given.
        `positions`: the stack's position scheme for this forward (nn/positions.py), which rotates
        queries and keys and/or adds a bias to the logits. `memory`: hidden states of the previous
        segment (Transformer-XL), attended to as extra keys."""
        h = self.hooks
        q = self._heads(self._norm_q(self.q_proj(x)), self.n_heads)
        if context is None:
            kv_in = x if memory is None else torch.cat([memory, x], dim=1)
            k = self._heads(self._norm_k(self.k_proj(kv_in)), self.n_kv_heads)
            v = self._heads(self.v_proj(kv_in), self.n_kv_heads)
            if self.temperature is not None:
                past = 0 if cache is None else cache.length
                q = q * nope_temperature(q.size(2), past, *self.temperature, q.device).to(q.dtype)
            if positions is not None and self.rotates:
                q, k = positions.rotate(q, k, self.local)  # before the cache: cached keys keep their rotation
            if cache is not None:
                k, v = cache.append(k, v)
                filled = cache.visible(q.size(2))
                if filled is not None:  # fixed-size buffers: the mask says what is filled
                    mask, causal = combine_masks(mask, filled), False
        elif cache is not None and cache.cross_k is not None:
            k, v = cache.cross_k, cache.cross_v
        else:
            k = self._heads(self._norm_k(self.k_proj(context)), self.n_kv_heads)
            v = self._heads(self.v_proj(context), self.n_kv_heads)
            if cache is not None:
                cache.cross_k, cache.cross_v = k, v
        if h is not None:
            q, k, v = self._hook_qkv(h, q, k, v)
        if self.n_kv_heads != self.n_heads:
            group = self.n_heads // self.n_kv_heads
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        if self.block_sparse is not None:
            mask = combine_masks(
                mask, block_sparse_mask(x.size(1), self.block_sparse, self.n_heads, self.layer, x.device)
            )
        scale = self.scale if self.scale is not None else self.head_dim**-0.5
        bias = None if positions is None else positions.bias(q, k, self, scale)
        dropout_p = self.dropout if self.training else 0.0
        window = self.window if context is None else None
        if self.chunk is not None:
            mask = combine_masks(mask, chunk_mask(q.size(2), k.size(2), self.chunk, q.device))
        tap = None if h is None else self._eager_tap(h)
        y = attend(
            q, k, v, mask, causal, dropout_p, self.backend, bias, self.scale, window, tap, self.softcap, self.sinks
        )
        if h is not None:
            return self._hooked_output(h, y)
        B, H, T, d = y.shape
        return self.out_proj(y.transpose(1, 2).reshape(B, T, H * d))

    # -- hook points (nn/hooks.py); reached only while hooks are installed --------------------------
    def _hook_qkv(self, h, q: Tensor, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        s = self.hook_scope
        return h(f"{s}.hook_q", q), h(f"{s}.hook_k", k), h(f"{s}.hook_v", v)

    def _eager_tap(self, h):
        """A tap for eager attention when this layer's scores or pattern are hooked, else None (SDPA)."""
        s = self.hook_scope
        if not (h.wants(f"{s}.hook_attn_scores") or h.wants(f"{s}.hook_pattern")):
            return None
        return lambda name, x: h(f"{s}.{name}", x)

    def _hooked_output(self, h, y: Tensor) -> Tensor:
        """The output projection with hook_z and, when hooked, every head's share (hook_result)."""
        s = self.hook_scope
        y = h(f"{s}.hook_z", y)
        B, H, T, d = y.shape
        if not h.wants(f"{s}.hook_result"):
            return self.out_proj(y.transpose(1, 2).reshape(B, T, H * d))
        w = self.out_proj.weight.view(-1, H, d)  # (d_model, H, dh): head h's columns of W^O
        result = h(f"{s}.hook_result", torch.einsum("bhtd,mhd->bhtm", y, w))
        out = result.sum(1)
        return out if self.out_proj.bias is None else out + self.out_proj.bias
