"""Block-sparse attention patterns (BigBird, Zaheer et al., 2020), as boolean masks.

The sequence is cut into blocks of `block_size` tokens. A query block attends to its
`window_blocks` neighbours (a sliding window of blocks), to the global blocks (the first and the
last, BigBird-ITC), and to `random_blocks` other blocks drawn per layer and head; global blocks
attend to everything. The pattern is computed densely here: the result equals BigBird's
attention, but the memory stays quadratic (what this buys is the faithful model, not its speed).
Random blocks are drawn once per (seed, layer, length), so evaluation is deterministic."""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

from .config import BlockSparseConfig


@lru_cache(maxsize=64)
def _pattern(n_blocks: int, window: int, n_global: int, n_random: int, heads: int, seed: int) -> Tensor:
    """(heads, n_blocks, n_blocks) bool: which key blocks each query block sees."""
    b = torch.arange(n_blocks)
    see = ((b[:, None] - b[None, :]).abs() <= window // 2).expand(heads, -1, -1).clone()
    glob = torch.zeros(n_blocks, dtype=torch.bool)
    glob[: (n_global + 1) // 2] = True  # the first block(s) ...
    glob[n_blocks - n_global // 2 :] = True  # ... and the last
    see[:, :, glob] = True
    see[:, glob, :] = True
    g = torch.Generator().manual_seed(seed)
    for h in range(heads):
        for q in range(n_blocks):
            if glob[q]:
                continue
            free = (~see[h, q]).nonzero().flatten()
            pick = free[torch.randperm(len(free), generator=g)[:n_random]]
            see[h, q, pick] = True
    return see


def block_sparse_mask(n: int, cfg: BlockSparseConfig, heads: int, layer: int, device=None) -> Tensor:
    """(1, heads, n, n) bool mask of the pattern for a sequence of n tokens."""
    n_blocks = -(-n // cfg.block_size)
    see = _pattern(n_blocks, cfg.window_blocks, cfg.global_blocks, cfg.random_blocks, heads, cfg.seed * 1000 + layer)
    block = torch.arange(n) // cfg.block_size
    return see[:, block][:, :, block][None].to(device)
