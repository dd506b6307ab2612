"""Attention masks: boolean, True where attention is *allowed*, broadcastable to (batch, heads,
queries, keys), the convention SDPA uses; queries are the last n_queries of n_keys positions (a KV
cache holds the first ones). Also the query temperature of Llama 4's layers without positions.
nn/attention.py re-exports every name."""

from __future__ import annotations

import torch
from torch import Tensor


def padding_mask(keep: Tensor) -> Tensor:
    """(batch, keys) True-for-real-token -> (batch, 1, 1, keys): no query may attend to padding."""
    return keep[:, None, None, :]


def causal_mask(n_queries: int, n_keys: int, device=None) -> Tensor:
    """Query i (the last n_queries of n_keys positions) may attend to keys 0..i only.

    With a KV cache the queries are the newest positions, so the diagonal is offset by the
    number of cached keys: the mask is aligned bottom-right, not top-left as SDPA's is_causal.
    """
    return torch.ones(n_queries, n_keys, dtype=torch.bool, device=device).tril(n_keys - n_queries)


def window_mask(n_queries: int, n_keys: int, window: int, device=None) -> Tensor:
    """Query i (the last n_queries of n_keys positions) sees at most the `window` latest keys up to itself."""
    q = torch.arange(n_keys - n_queries, n_keys, device=device)[:, None]
    k = torch.arange(n_keys, device=device)[None, :]
    return (k <= q) & (k > q - window)


def chunk_mask(n_queries: int, n_keys: int, chunk: int, device=None) -> Tensor:
    """Query i (the last n_queries of n_keys positions) sees only keys of its own chunk of `chunk`
    positions (Llama 4's chunked layers; the causal mask is applied with it)."""
    q = torch.arange(n_keys - n_queries, n_keys, device=device)[:, None]
    return q // chunk == torch.arange(n_keys, device=device)[None, :] // chunk


def nope_temperature(n_queries: int, past, floor: int, scale: float, device=None) -> Tensor:
    """(1, 1, n_queries, 1) query multipliers 1 + scale * ln(1 + floor((p + 1) / floor)) at positions
    p = past ... past + n_queries - 1 (Llama 4 on its layers without positions: attention stays sharp
    over long contexts)."""
    p = past + torch.arange(n_queries, device=device, dtype=torch.float32)
    return (torch.log1p(torch.floor((p + 1.0) / floor)) * scale + 1.0).view(1, 1, -1, 1)


def local_mask(n: int, window: int, device=None) -> Tensor:
    """Bidirectional sliding window: position i sees keys within window // 2 on either side."""
    pos = torch.arange(n, device=device)
    return (pos[:, None] - pos[None, :]).abs() <= window // 2


def combine_masks(*masks: Tensor | None) -> Tensor | None:
    """Logical AND of the masks that are present; None when there are none."""
    present = [m for m in masks if m is not None]
    if not present:
        return None
    out = present[0]
    for m in present[1:]:
        out = out & m
    return out
