"""Contrastive objectives: in-batch InfoNCE over sentence pairs (the loss sentence-transformers
calls MultipleNegativesRankingLoss; SimCSE, E5) and CLIP's image-text loss (nn/dual.py).

Each pair (a_i, b_i) is a positive; every b_j of the batch is a negative for a_i. Sentences are
mean-pooled encoder states, L2-normalised, compared by cosine times a scale (1 / temperature)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..nn.dual import contrastive_loss
from .base import Defaults, Vocab, pad


def mean_pool(hidden: Tensor, keep: Tensor) -> Tensor:
    """Average of the real tokens' states (what all-MiniLM-L6-v2 and most sentence encoders use)."""
    w = keep.unsqueeze(-1).to(hidden.dtype)
    return (hidden * w).sum(1) / w.sum(1).clamp(min=1)


class SentenceEncoder(nn.Module):
    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder, self.config = encoder, encoder.config

    def forward(self, ids: Tensor) -> Tensor:
        keep = ids != self.config.embedding.pad_id
        return F.normalize(mean_pool(self.encoder(ids, keep=keep), keep), dim=-1)


@dataclass
class InBatchContrastive(Defaults):
    vocab: Vocab
    max_len: int = 128
    scale: float = 20.0  # 1 / temperature (sentence-transformers' default)
    symmetric: bool = True  # also rank the a's for each b (CLIP-style)
    name: str = "contrastive"
    arch: str = "encoder"
    takes_pairs = True  # examples are sentence pairs, not documents

    def wrap(self, model: nn.Module) -> nn.Module:
        return SentenceEncoder(model)

    def batch(self, pairs: list, rng: random.Random) -> dict[str, Tensor]:
        cut = self.max_len - 2
        a = pad([[self.vocab.bos, *x[:cut], self.vocab.eos] for x, _ in pairs], self.vocab.pad)
        b = pad([[self.vocab.bos, *y[:cut], self.vocab.eos] for _, y in pairs], self.vocab.pad)
        return {"a": a, "b": b}

    def loss(self, model, batch):
        sims = self.scale * model(batch["a"]) @ model(batch["b"]).t()
        if self.symmetric:
            return contrastive_loss(sims), sims.size(0)
        return F.cross_entropy(sims, torch.arange(sims.size(0))), sims.size(0)
