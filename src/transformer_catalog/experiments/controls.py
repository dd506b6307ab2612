"""Controls shared by experiments: the same objective, with part of its input hidden.

A control runs the same model, data and training as the claim and changes one thing, so that a
claim that held for another reason (a leak of the answer into the input, a broken mask) would show
up as a control that succeeds too.
"""

from __future__ import annotations

import random

from torch import Tensor, nn


class HideInput:
    """An objective whose batches have every non-pad token under `key` replaced by `token`: the
    model still sees how long the input is (and, for a decoder, the positions) but not what it says."""

    def __init__(self, inner, key: str, token: int, pad: int):
        self.inner, self.key, self.token, self.pad = inner, key, token, pad
        self.name, self.arch = inner.name, inner.arch
        self.takes_pairs, self.smooths, self.max_len = inner.takes_pairs, inner.smooths, inner.max_len

    def wrap(self, model: nn.Module) -> nn.Module:
        return self.inner.wrap(model)

    def batches(self, examples: list, max_tokens: int, seed: int, epoch: int) -> list[list[int]]:
        return self.inner.batches(examples, max_tokens, seed, epoch)

    def batch(self, examples: list, rng: random.Random) -> dict[str, Tensor]:
        batch = self.inner.batch(examples, rng)
        ids = batch[self.key]
        batch[self.key] = ids.masked_fill(ids != self.pad, self.token)
        return batch

    def loss(self, model, batch: dict[str, Tensor], *label_smoothing) -> tuple[Tensor, int]:
        return self.inner.loss(model, batch, *label_smoothing)
