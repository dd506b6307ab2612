"""Batches of similar-length examples (paper, section 5.1: "batched together by approximate
sequence length", about 25,000 source and 25,000 target tokens each).

The batch order is a pure function of (seed, epoch), so a resumed run sees exactly the batches an
uninterrupted one would: resume state is just (epoch, index of the next batch).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch

Example = tuple[list[int], list[int]]  # (source ids, target ids)

_MIX = 1_000_003  # a prime: keys of (seed, epoch, batch) differ while epoch and batch stay below it


def rng_key(seed: int, epoch: int, batch: int | None = None) -> int:
    """The one key every random choice of training derives from: the epoch's batch order from
    (seed, epoch), a batch's own choices (what to mask, where to cut) from (seed, epoch, batch).
    Pure functions of the position, so a resumed run repeats an uninterrupted one exactly."""
    key = seed * _MIX + epoch
    return key if batch is None else key * _MIX + batch


def epoch_rng(seed: int, epoch: int) -> random.Random:
    """The RNG that orders an epoch's examples and batches."""
    return random.Random(rng_key(seed, epoch))


def batch_rng(key: int) -> random.Random:
    """The RNG of one batch's data transformation, from its rng_key."""
    return random.Random(key)


def fixed_size_batches(n_examples: int, size: int, seed: int, epoch: int) -> list[list[int]]:
    """Lists of `size` example indices (the last may be shorter), in an order shuffled per epoch."""
    order = list(range(n_examples))
    epoch_rng(seed, epoch).shuffle(order)
    return [order[i : i + size] for i in range(0, len(order), size)]


def length_grouped_batches(examples: Sequence[Example], max_tokens: int, seed: int, epoch: int) -> list[list[int]]:
    """Lists of example indices. Examples are sorted by length inside shuffled chunks so that a
    batch holds similar lengths (little padding) while batches still differ from epoch to epoch."""
    rng = epoch_rng(seed, epoch)
    order = list(range(len(examples)))
    rng.shuffle(order)
    chunk = 100 * max(1, max_tokens // 64)  # sort within windows of ~100 batches
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        window = sorted(order[start : start + chunk], key=lambda i: (len(examples[i][0]), len(examples[i][1])))
        batch: list[int] = []
        longest = 0
        for i in window:
            n = max(len(examples[i][0]), len(examples[i][1]))
            if batch and max(longest, n) * (len(batch) + 1) > max_tokens:
                batches.append(batch)
                batch, longest = [], 0
            batch.append(i)
            longest = max(longest, n)
        if batch:
            batches.append(batch)
    rng.shuffle(batches)
    return batches


def pad(seqs: Sequence[Sequence[int]], pad_id: int) -> torch.Tensor:
    width = max(len(s) for s in seqs)
    out = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    for row, s in enumerate(seqs):
        out[row, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out


def collate_seq2seq(examples: Sequence[Example], pad_id: int, bos_id: int, eos_id: int) -> dict[str, torch.Tensor]:
    """src = x </s>; decoder input = <s> y; labels = y </s> (teacher forcing, shifted by one)."""
    src = pad([s + [eos_id] for s, _ in examples], pad_id)
    tgt_in = pad([[bos_id] + t for _, t in examples], pad_id)
    labels = pad([t + [eos_id] for _, t in examples], pad_id)
    return {"src": src, "tgt_in": tgt_in, "labels": labels}
