"""Tiled ("flash-style") exact attention in plain PyTorch (Dao et al., 2022; FlashAttention-2's loop order).

The score matrix Q K^T is never materialised: queries are cut into blocks of `block_q` rows, keys and
values into blocks of `block_k`, and each query block walks the key blocks keeping, per row, the running
maximum m, the running softmax denominator l and the unnormalised output. When a later key block raises
the maximum, what was accumulated is rescaled by exp(m_old - m_new) (the online softmax), so the result
equals softmax(Q K^T * scale) V exactly, up to float rounding.

The backward pass stores only Q, K, V, the output O and one log-sum-exp per row (L = m + log l): it
recomputes each block's probabilities P = exp(S - L) from them instead of keeping the (T x T) matrix, and
uses dS = P * (dP - rowsum(dO * O)) (the softmax Jacobian, with rowsum(dO * O) = rowsum(P * dP)).

Extra memory is O(T d + block_q * block_k) instead of O(T^2). What this buys on a CPU is memory, not
time: PyTorch's own fused CPU kernel (SDPA) tiles the same way in C++ (benchmarks/bench_attention.py).

Supported: causal (aligned bottom-right, as with a KV cache), sliding windows (causal or bidirectional,
computed from positions per block, and key blocks outside the window are skipped, so time and memory are
linear in length), a boolean mask broadcastable to (B, H, Tq, Tk) (padding; read block by block), and
grouped-query attention (K, V with fewer heads than Q; a group of query heads reads one key head without
copying it). Not supported: an additive bias on the logits and dropout on the weights (the config refuses
backend "tiled" with either).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import TcatError

DEFAULT_BLOCK = 128


def _allowed(
    qs: int, qe: int, ks: int, ke: int, offset: int, causal: bool, window: int | None, device
) -> Tensor | None:
    """(qe - qs, ke - ks) bool: which keys of this block each query of this block may see, from positions
    alone (query i sits at position offset + i); None when every pair is allowed."""
    if not causal and window is None:
        return None
    q = torch.arange(qs + offset, qe + offset, device=device)[:, None]
    k = torch.arange(ks, ke, device=device)[None, :]
    if causal:
        ok = k <= q
        return ok if window is None else ok & (k > q - window)
    return (q - k).abs() <= window // 2  # the bidirectional window of attention.local_mask


def _key_range(qs: int, qe: int, n_k: int, offset: int, causal: bool, window: int | None) -> tuple[int, int]:
    """The keys any query of rows qs..qe-1 can see at all: blocks outside are skipped, not computed."""
    lo, hi = 0, n_k
    if causal:
        hi = min(n_k, qe + offset)
        if window is not None:
            lo = max(0, qs + offset - window + 1)
    elif window is not None:
        lo, hi = max(0, qs + offset - window // 2), min(n_k, qe - 1 + offset + window // 2 + 1)
    return lo, hi


def _blocks(t: Tensor, group: int) -> Tensor:
    """(B, Hq, T, d) -> (B, Hkv, group, T, d): the query heads that share one key/value head side by side."""
    B, H, T, d = t.shape
    return t.view(B, H // group, group, T, d)


def _mask_block(mask: Tensor | None, qs: int, qe: int, ks: int, ke: int, group: int) -> Tensor | None:
    """The mask's block, shaped to broadcast against grouped scores (B, Hkv, group, bq, bk)."""
    if mask is None:
        return None
    m = mask[..., qs:qe, ks:ke] if mask.size(-2) > 1 else mask[..., ks:ke]
    B, H = m.shape[0], m.shape[1]
    if H == 1:
        return m[:, :, None]
    return m.reshape(B, H // group, group, *m.shape[2:])


class _TiledAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, mask, causal, scale, window, block_q, block_k):
        B, Hq, Tq, d = q.shape
        Hkv, Tk = k.size(1), k.size(2)
        group, offset = Hq // Hkv, Tk - Tq
        qg = _blocks(q, group)
        kg, vg = k[:, :, None], v[:, :, None]  # (B, Hkv, 1, Tk, d): broadcast over the group
        out = q.new_zeros(*qg.shape[:-1], v.size(-1))
        lse = torch.full(qg.shape[:-1], float("-inf"), dtype=q.dtype, device=q.device)
        for qs in range(0, Tq, block_q):
            qe = min(Tq, qs + block_q)
            qb = qg[..., qs:qe, :] * scale
            m = torch.full(qb.shape[:-1], float("-inf"), dtype=q.dtype, device=q.device)
            l = torch.zeros_like(m)  # noqa: E741 (the paper's name for the softmax denominator)
            acc = torch.zeros(*qb.shape[:-1], v.size(-1), dtype=q.dtype, device=q.device)
            lo, hi = _key_range(qs, qe, Tk, offset, causal, window)
            for ks in range(lo - lo % block_k, hi, block_k):
                ke = min(Tk, ks + block_k)
                s = qb @ kg[..., ks:ke, :].transpose(-2, -1)
                ok = _allowed(qs, qe, ks, ke, offset, causal, window, q.device)
                mb = _mask_block(mask, qs, qe, ks, ke, group)
                ok = mb if ok is None else (ok if mb is None else ok & mb)
                if ok is not None:
                    s = s.masked_fill(~ok, float("-inf"))
                m_new = torch.maximum(m, s.amax(-1))
                safe = m_new.masked_fill(m_new == float("-inf"), 0.0)  # a row with nothing seen yet stays at 0
                p = torch.exp(s - safe[..., None])
                rescale = torch.exp(m - safe)
                l = l * rescale + p.sum(-1)  # noqa: E741
                acc = acc * rescale[..., None] + p @ vg[..., ks:ke, :]
                m = m_new
            seen = l > 0  # a row that may see no key at all gives 0 (not NaN) and never a gradient
            out[..., qs:qe, :] = acc / torch.where(seen, l, 1.0)[..., None]
            lse[..., qs:qe] = torch.where(seen, m + torch.log(torch.where(seen, l, 1.0)), float("-inf"))
        ctx.save_for_backward(q, k, v, out, lse, *([] if mask is None else [mask]))
        ctx.args = (causal, scale, window, block_q, block_k, mask is not None)
        return out.reshape(B, Hq, Tq, v.size(-1))

    @staticmethod
    def backward(ctx, grad_out):
        causal, scale, window, block_q, block_k, has_mask = ctx.args
        q, k, v, out, lse = ctx.saved_tensors[:5]
        mask = ctx.saved_tensors[5] if has_mask else None
        B, Hq, Tq, d = q.shape
        Hkv, Tk = k.size(1), k.size(2)
        group, offset = Hq // Hkv, Tk - Tq
        qg, dog = _blocks(q, group), _blocks(grad_out.contiguous(), group)
        kg, vg = k[:, :, None], v[:, :, None]
        delta = (dog * out).sum(-1)  # rowsum(dO * O) = rowsum(P * dP)
        lse_safe = lse.masked_fill(lse == float("-inf"), 0.0)
        dq = torch.zeros_like(qg)
        dk = torch.zeros(B, Hkv, Tk, d, dtype=k.dtype, device=k.device)
        dv = torch.zeros(B, Hkv, Tk, v.size(-1), dtype=v.dtype, device=v.device)
        for qs in range(0, Tq, block_q):
            qe = min(Tq, qs + block_q)
            qb, dob = qg[..., qs:qe, :], dog[..., qs:qe, :]
            lo, hi = _key_range(qs, qe, Tk, offset, causal, window)
            for ks in range(lo - lo % block_k, hi, block_k):
                ke = min(Tk, ks + block_k)
                kb, vb = kg[..., ks:ke, :], vg[..., ks:ke, :]
                s = (qb @ kb.transpose(-2, -1)) * scale
                ok = _allowed(qs, qe, ks, ke, offset, causal, window, q.device)
                mb = _mask_block(mask, qs, qe, ks, ke, group)
                ok = mb if ok is None else (ok if mb is None else ok & mb)
                p = torch.exp(s - lse_safe[..., qs:qe, None])
                if ok is not None:
                    p = p.masked_fill(~ok, 0.0)
                p = p.masked_fill((lse[..., qs:qe] == float("-inf"))[..., None], 0.0)
                dv[:, :, ks:ke] += (p.transpose(-2, -1) @ dob).sum(2)  # summed over the query heads of a group
                dp = dob @ vb.transpose(-2, -1)
                ds = p * (dp - delta[..., qs:qe, None])
                dq[..., qs:qe, :] += (ds @ kb) * scale
                dk[:, :, ks:ke] += (ds.transpose(-2, -1) @ qb).sum(2) * scale
        return dq.reshape(B, Hq, Tq, d), dk, dv, None, None, None, None, None, None


def tiled_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    causal: bool = False,
    scale: float | None = None,
    window: int | None = None,
    block_q: int = DEFAULT_BLOCK,
    block_k: int = DEFAULT_BLOCK,
) -> Tensor:
    """softmax(Q K^T * scale + masking) V computed block by block. q: (B, Hq, Tq, d); k, v: (B, Hkv, Tk, d)
    with Hkv dividing Hq (grouped-query attention without repeating K and V); mask: bool, True = attend,
    broadcastable to (B, Hq, Tq, Tk); causal is aligned bottom-right (the queries are the last Tq of Tk
    positions); window as attention.attend takes it. A row that may see no key returns zeros."""
    if q.size(1) % k.size(1):
        raise TcatError(f"tiled attention: {k.size(1)} key heads do not divide {q.size(1)} query heads")
    if block_q < 1 or block_k < 1:
        raise TcatError(f"tiled attention: block sizes must be at least 1, got {block_q} x {block_k}")
    if mask is not None:
        mask = mask.reshape((1,) * (4 - mask.dim()) + tuple(mask.shape))  # (Tq, Tk) masks as (1, 1, Tq, Tk)
    scale = 1 / math.sqrt(q.size(-1)) if scale is None else scale
    return _TiledAttention.apply(q, k, v, mask, causal, scale, window, block_q, block_k)


def check_blocks(length: int, block: int) -> None:
    """A block size chosen for a measured length must fit it evenly: a ragged last block would measure a
    different kernel than the one the table names."""
    if block < 1 or block > length:
        raise TcatError(f"block size {block} must be between 1 and the sequence length {length}")
    if length % block:
        raise TcatError(f"block size {block} does not divide the sequence length {length}")


__all__ = ["DEFAULT_BLOCK", "check_blocks", "tiled_attention"]
