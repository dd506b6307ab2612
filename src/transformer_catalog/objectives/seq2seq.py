"""Sequence-to-sequence objectives: translation (the paper's task) and the copy task (the Annotated
Transformer's first check that a model trains). Both are one objective over different corpora:
examples are (source ids, target ids) pairs; the encoder reads `x </s>`, the decoder is fed
`<s> y` and predicts `y </s>` (teacher forcing); the loss is token cross-entropy over the target
with the trainer's label smoothing (paper, section 5.4: epsilon_ls = 0.1).

Batches group similar lengths (paper, section 5.1), up to max_tokens padded tokens each.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from ..data.batching import collate_seq2seq, length_grouped_batches
from .base import Vocab


@dataclass
class Seq2Seq:
    vocab: Vocab  # only pad, bos and eos are used: no <mask> is needed
    max_len: int = 0  # unused by the batches (they are sized in tokens); kept for the common signature
    name: str = "translate"
    arch: str = "encoder-decoder"
    takes_pairs = True
    smooths = True

    def wrap(self, model: nn.Module) -> nn.Module:
        return model

    def batches(self, examples: list, max_tokens: int, seed: int, epoch: int) -> list[list[int]]:
        return length_grouped_batches(examples, max_tokens, seed, epoch)

    def batch(self, examples: list, rng: random.Random) -> dict[str, Tensor]:
        # Deterministic: rng is part of the protocol, and unused here.
        return collate_seq2seq(examples, self.vocab.pad, self.vocab.bos, self.vocab.eos)

    def loss(self, model, batch: dict[str, Tensor], label_smoothing: float = 0.0) -> tuple[Tensor, int]:
        logits = model(batch["src"], batch["tgt_in"])
        labels = batch["labels"]  # padded with pad ids, which the loss ignores
        loss = F.cross_entropy(
            logits.float().view(-1, logits.size(-1)),
            labels.view(-1),
            ignore_index=self.vocab.pad,
            label_smoothing=label_smoothing,
        )
        return loss, int((labels != self.vocab.pad).sum())
