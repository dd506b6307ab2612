"""Encoder objectives: masked LM (BERT; optionally whole-word masking and a sentence-pair task,
NSP or ALBERT's SOP) and ELECTRA's replaced-token detection (a small MLM generator fills the masks,
the discriminator tells, for every token, whether it was replaced).

The heads live here, around the core encoder: BERT's MLM head (dense, GELU, LayerNorm, output tied
to the token embedding, a bias), its pooler + pair classifier, ELECTRA's per-token discriminator."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..nn.model import build_model
from .base import IGNORE, Defaults, Vocab, generator, pad, token_loss


class MaskedLMModel(nn.Module):
    def __init__(self, encoder: nn.Module, pair_task: bool = False):
        super().__init__()
        cfg = encoder.config
        width = cfg.embedding.d_embed or cfg.d_model
        self.config = cfg
        self.encoder = encoder
        self.transform = nn.Sequential(nn.Linear(cfg.d_model, width), nn.GELU(), nn.LayerNorm(width, eps=cfg.norm.eps))
        self.bias = nn.Parameter(torch.zeros(cfg.embedding.vocab_size))
        self.pair_head = (
            nn.Sequential(nn.Linear(cfg.d_model, cfg.d_model), nn.Tanh(), nn.Linear(cfg.d_model, 2))
            if pair_task
            else None
        )

    def forward(self, ids: Tensor, token_types: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        hidden = self.encoder(ids, token_types=token_types)
        logits = F.linear(self.transform(hidden), self.encoder.embed.tokens.weight, self.bias)
        pair = self.pair_head(hidden[:, 0]) if self.pair_head is not None else None
        return logits, pair


def _pairs(docs: list, rng: random.Random, task: str, max_len: int):
    """([CLS] A [SEP] B [SEP] pieces, label): A is the first sentences of a document, B the rest
    (label 1). NSP: half the time B comes from another document; SOP: half the time A and B swap."""
    out = []
    for i, doc in enumerate(docs):
        doc = [s for s in doc if s]
        cut = rng.randint(1, len(doc) - 1) if len(doc) > 1 else 1
        a = [t for s in doc[:cut] for t in s]
        b = [t for s in doc[cut:] for t in s] or a[len(a) // 2 :]
        label = 1
        if rng.random() < 0.5:
            label = 0
            if task == "nsp" and len(docs) > 1:
                j = rng.randrange(len(docs) - 1)  # any document but this one (by index: texts may repeat)
                b = [t for s in docs[j + (j >= i)] for t in s]
            elif task == "nsp":
                b = b[::-1]  # a batch of one document: the continuation reversed is the negative
            else:
                a, b = b, a
        half = (max_len - 3) // 2
        out.append((a[:half], b[:half], label))
    return out


@dataclass
class MaskedLM(Defaults):
    vocab: Vocab
    max_len: int = 128
    mask_prob: float = 0.15
    # of the chosen tokens: [MASK], a random token, unchanged (BERT: 80 / 10 / 10; ELECTRA: all masked)
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    whole_word: bool = False  # choose whole words: every piece of a chosen word is masked
    pair_task: Literal["nsp", "sop"] | None = None
    name: str = "mlm"
    arch: str = "encoder"

    def wrap(self, model: nn.Module) -> nn.Module:
        return MaskedLMModel(model, pair_task=self.pair_task is not None)

    def _choose(self, ids: Tensor, g: torch.Generator) -> Tensor:
        special = torch.zeros_like(ids, dtype=torch.bool)
        for s in self.vocab.specials:
            special |= ids == s
        if self.whole_word:
            if self.vocab.word_start is None:
                raise ValueError("whole-word masking needs vocab.word_start")
            starts = self.vocab.word_start[ids] | special
            word = starts.long().cumsum(-1)  # tokens of one word share a number
            pick = torch.rand(ids.size(0), ids.size(1) + 1, generator=g) < self.mask_prob
            chosen = pick.gather(1, word) & ~special
        else:
            chosen = (torch.rand(ids.shape, generator=g) < self.mask_prob) & ~special
        for row in range(ids.size(0)):  # at least one target per sequence
            if not chosen[row].any():
                free = (~special[row]).nonzero().flatten()
                if len(free):
                    pos = free[torch.randint(len(free), (1,), generator=g)]
                    if self.whole_word:  # the whole word around the drawn piece, never one piece of it
                        chosen[row] = (word[row] == word[row, pos]) & ~special[row]
                    else:
                        chosen[row, pos] = True
        return chosen

    def batch(self, docs: list, rng: random.Random) -> dict[str, Tensor]:
        g, v = generator(rng), self.vocab
        if self.pair_task:
            pairs = _pairs(docs, rng, self.pair_task, self.max_len)
            seqs = [[v.bos, *a, v.eos, *b, v.eos] for a, b, _ in pairs]
            types = pad([[0] * (len(a) + 2) + [1] * (len(b) + 1) for a, b, _ in pairs], 0)
        else:
            seqs = [[v.bos, *[t for s in d for t in s][: self.max_len - 2], v.eos] for d in docs]
            types = None
        ids = pad(seqs, v.pad)
        chosen = self._choose(ids, g)
        labels = torch.where(chosen, ids, torch.full_like(ids, IGNORE))
        r = torch.rand(ids.shape, generator=g)
        masked = chosen & (r < self.split[0])
        randomised = chosen & (r >= self.split[0]) & (r < self.split[0] + self.split[1])
        inputs = torch.where(masked, torch.full_like(ids, v.mask), ids)
        inputs = torch.where(randomised, v.random_tokens(ids.shape, g), inputs)
        out = {"ids": inputs, "labels": labels, "original": ids}
        if self.pair_task:
            out |= {"token_types": types, "pair_labels": torch.tensor([p[2] for p in pairs])}
        return out

    def loss(self, model, batch):
        logits, pair = model(batch["ids"], token_types=batch.get("token_types"))
        loss, n = token_loss(logits, batch["labels"])
        if pair is not None:
            loss = loss + F.cross_entropy(pair.float(), batch["pair_labels"])
        return loss, n


class ElectraModel(nn.Module):
    """A generator (a narrower MLM encoder) and the discriminator (the encoder being pretrained)."""

    def __init__(self, discriminator: nn.Module, generator_width: float):
        super().__init__()
        cfg = discriminator.config
        heads = max(1, int(cfg.attention.n_heads * generator_width))
        d = heads * cfg.head_dim
        gen_cfg = cfg.replace(
            d_model=d,
            **{
                "attention.n_heads": heads,
                "attention.n_kv_heads": None,
                "ffn.d_ff": max(1, int(cfg.ffn.d_ff * generator_width)),
            },
        )
        self.config = cfg
        self.generator = MaskedLMModel(build_model(gen_cfg))
        self.discriminator = discriminator
        self.detect = nn.Sequential(nn.Linear(cfg.d_model, cfg.d_model), nn.GELU(), nn.Linear(cfg.d_model, 1))

    def forward(self, ids: Tensor) -> Tensor:
        """Per-token logits that the token was replaced."""
        return self.detect(self.discriminator(ids)).squeeze(-1)


@dataclass
class ReplacedTokenDetection(Defaults):
    vocab: Vocab
    max_len: int = 128
    mask_prob: float = 0.15
    generator_width: float = 0.25  # ELECTRA: a generator 1/4 to 1/2 the discriminator's width
    weight: float = 50.0  # the discriminator loss's weight (ELECTRA, lambda = 50)
    name: str = "rtd"
    arch: str = "encoder"

    def wrap(self, model: nn.Module) -> nn.Module:
        return ElectraModel(model, self.generator_width)

    def batch(self, docs: list, rng: random.Random) -> dict[str, Tensor]:
        return MaskedLM(self.vocab, self.max_len, self.mask_prob, split=(1.0, 0.0, 0.0)).batch(docs, rng)

    @staticmethod
    def corrupt(gen_logits: Tensor, batch: dict) -> tuple[Tensor, Tensor]:
        """Sample the generator's guesses into the masked places; the label is 1 where the token
        differs from the original (a correct guess counts as original, as in ELECTRA)."""
        chosen = batch["labels"] != IGNORE
        with torch.no_grad():
            guesses = torch.distributions.Categorical(logits=gen_logits.float()).sample()
        corrupted = torch.where(chosen, guesses, batch["original"])
        return corrupted, (corrupted != batch["original"]).float()

    def loss(self, model, batch):
        gen_logits, _ = model.generator(batch["ids"])
        mlm, n = token_loss(gen_logits, batch["labels"])
        corrupted, replaced = self.corrupt(gen_logits, batch)
        real = batch["original"] != self.vocab.pad
        detect = F.binary_cross_entropy_with_logits(model(corrupted).float()[real], replaced[real])
        return mlm + self.weight * detect, int(real.sum())
