"""What every pretraining objective shares: the special token ids, and the shape of an objective.

An objective turns raw examples into a batch (the data transformation, tested on its own) and a
batch into a loss. Where an objective needs more than the core model (an MLM head, ELECTRA's two
networks), `wrap` adds it from outside; the core stays as it is.

Examples are documents: lists of sentences, each a list of token ids (a Bible chapter of verses).
Contrastive objectives and the sequence-to-sequence ones (translate, copy; seq2seq.py) take pairs of
token lists instead.

A training task (train/tasks.py) is one objective over one corpus: the objective decides how
examples are grouped into batches, what a batch holds and what the loss is; the corpus only
supplies the examples.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.batching import fixed_size_batches

IGNORE = -100  # label of positions that carry no loss (F.cross_entropy's default ignore_index)
Document = Sequence[Sequence[int]]


@dataclass
class Vocab:
    size: int
    pad: int
    bos: int  # also BERT's [CLS]
    eos: int  # also BERT's [SEP]
    mask: int | None = None  # None: no <mask> token (translation's tokenizer); the masking objectives need one
    sentinels: tuple[int, ...] = ()  # T5: one id per corrupted span, in order
    word_start: Tensor | None = None  # (size,) bool: the token begins a word (whole-word masking)

    @property
    def specials(self) -> set[int]:
        return {self.pad, self.bos, self.eos, *([] if self.mask is None else [self.mask]), *self.sentinels}

    @classmethod
    def from_tokenizer(cls, tok) -> Vocab:
        """The ids of a tokenizer trained with data.tokenizer.objective_specials() (or a BERT-style one)."""
        from ..errors import TcatError

        mask = tok.mask_id
        if mask is None:
            raise TcatError("the tokenizer has no <mask> token: train it with objective_specials()")
        sentinels = []
        while (i := tok.token_id(f"<extra_id_{len(sentinels)}>")) is not None:
            sentinels.append(i)
        return cls(tok.vocab_size, tok.pad_id, tok.bos_id, tok.eos_id, mask, tuple(sentinels), tok.word_starts())

    def random_tokens(self, shape, g: torch.Generator) -> Tensor:
        """Ordinary (non-special) tokens drawn uniformly, e.g. BERT's 10% random replacements."""
        ordinary = torch.tensor(sorted(set(range(self.size)) - self.specials))
        return ordinary[torch.randint(len(ordinary), shape, generator=g)]


class Objective(Protocol):
    name: str
    arch: str  # the core architecture it trains: encoder, decoder or encoder-decoder
    takes_pairs: bool  # examples are pairs of token lists, else documents
    smooths: bool  # loss() takes the trainer's label smoothing; the others train on plain cross-entropy

    def wrap(self, model: nn.Module) -> nn.Module: ...

    def batches(self, examples: list, max_tokens: int, seed: int, epoch: int) -> list[list[int]]: ...

    def batch(self, examples: list, rng: random.Random) -> dict[str, Tensor]: ...

    def loss(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, int]: ...

    # (with smooths: loss(model, batch, label_smoothing: float = 0.0))


class Defaults:
    """What most objectives share: documents as examples, no label smoothing, the core model as it
    is, and batches of a fixed number of examples (max_tokens // max_len), shuffled per epoch."""

    takes_pairs = False
    smooths = False
    max_len: int

    def wrap(self, model: nn.Module) -> nn.Module:
        return model

    def batches(self, examples: list, max_tokens: int, seed: int, epoch: int) -> list[list[int]]:
        return fixed_size_batches(len(examples), max(1, max_tokens // self.max_len), seed, epoch)


def pad(seqs: Sequence[Sequence[int]], value: int) -> Tensor:
    width = max(1, max(len(s) for s in seqs))
    out = torch.full((len(seqs), width), value, dtype=torch.long)
    for row, s in enumerate(seqs):
        out[row, : len(s)] = torch.as_tensor(list(s), dtype=torch.long)
    return out


def flatten(doc: Document, max_len: int) -> list[int]:
    """A document's sentences run together, cut to max_len tokens."""
    return [t for sentence in doc for t in sentence][:max_len]


def token_loss(logits: Tensor, labels: Tensor) -> tuple[Tensor, int]:
    """Mean cross-entropy over the labelled positions, and how many there were."""
    n = int((labels != IGNORE).sum())
    loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=IGNORE)
    return loss, n


def generator(rng: random.Random) -> torch.Generator:
    """A torch generator seeded from the batch's Python RNG: batches are a pure function of it."""
    return torch.Generator().manual_seed(rng.getrandbits(63))
