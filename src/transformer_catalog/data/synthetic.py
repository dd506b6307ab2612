"""Synthetic corpora: the copy task's random symbol sequences (the Annotated Transformer's first
check that a model trains: output the input)."""

from __future__ import annotations

import random

COPY_PAD, COPY_BOS, COPY_EOS = 0, 1, 2  # the copy task's vocabulary: these three, then the symbols


def copy_examples(n: int, n_symbols: int, length: int, seed: int) -> list[tuple[list[int], list[int]]]:
    """n (sequence, same sequence) pairs of `length` symbols drawn uniformly from n_symbols."""
    rng = random.Random(seed)
    first = COPY_EOS + 1
    out = []
    for _ in range(n):
        seq = [rng.randrange(first, first + n_symbols) for _ in range(length)]
        out.append((seq, list(seq)))
    return out


def copy_vocab_size(n_symbols: int) -> int:
    return COPY_EOS + 1 + n_symbols
