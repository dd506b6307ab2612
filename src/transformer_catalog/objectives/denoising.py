"""Encoder-decoder objectives: T5's span corruption and BART's denoising.

T5 (Raffel et al., section 3.1.4): 15% of the tokens, in spans of mean length 3, are cut out; each
span leaves a sentinel in the input, and the target lists the sentinels each followed by its span.
BART (Lewis et al., section 2.2): sentence permutation, then text infilling — spans with Poisson(3)
lengths cover 30% of the tokens, each span (even an empty one) becomes a single mask token — and
the decoder reconstructs the original text."""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .base import IGNORE, Defaults, Vocab, flatten, pad, token_loss


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """`total` items in `parts` non-empty runs, every split equally likely."""
    cuts = sorted(rng.sample(range(1, total), parts - 1)) if parts > 1 else []
    edges = [0, *cuts, total]
    return [b - a for a, b in zip(edges, edges[1:])]


def span_corrupt(
    ids: list[int], sentinels: tuple[int, ...], rng: random.Random, density: float = 0.15, mean_span: float = 3.0
) -> tuple[list[int], list[int]]:
    """(input, target) of T5's objective for one sequence of at least 2 tokens."""
    n = len(ids)
    n_noise = min(max(1, round(n * density)), n - 1)
    n_spans = min(max(1, round(n_noise / mean_span)), n_noise, n - n_noise, len(sentinels))
    noise, keep = _split(n_noise, n_spans, rng), _split(n - n_noise, n_spans, rng)
    inp, tgt, pos = [], [], 0
    for i, (k, m) in enumerate(zip(keep, noise)):
        inp += ids[pos : pos + k] + [sentinels[i]]
        tgt += [sentinels[i]] + ids[pos + k : pos + k + m]
        pos += k + m
    return inp, tgt


def infill(
    ids: list[int],
    mask: int,
    rng: random.Random,
    ratio: float = 0.3,
    poisson: float = 3.0,
    g: torch.Generator | None = None,
) -> list[int]:
    """BART's text infilling: spans of Poisson(3) length covering ~ratio of the tokens, each replaced
    by one mask token (a zero-length span inserts a mask)."""
    n = len(ids)
    target = round(n * ratio)
    masked, inserted = [False] * n, set()
    covered = 0
    while covered < target:
        length = int(torch.poisson(torch.tensor(poisson), generator=g).item())
        start = rng.randrange(n)
        if length == 0:
            inserted.add(start)
            covered += 0.5  # an insertion still counts a little, so the loop ends on short inputs
            continue
        for i in range(start, min(n, start + length)):
            covered += not masked[i]
            masked[i] = True
    out = []
    for i, t in enumerate(ids):
        if i in inserted and (not out or out[-1] != mask):
            out.append(mask)
        if masked[i]:
            if not out or out[-1] != mask:
                out.append(mask)
        else:
            out.append(t)
    return out


def _seq2seq_batch(pairs: list[tuple[list[int], list[int]]], v: Vocab) -> dict[str, Tensor]:
    return {
        "src": pad([s + [v.eos] for s, _ in pairs], v.pad),
        "tgt_in": pad([[v.bos] + t for _, t in pairs], v.pad),
        "labels": pad([t + [v.eos] for _, t in pairs], IGNORE),
    }


def _seq2seq_loss(model, batch):
    return token_loss(model(batch["src"], batch["tgt_in"]), batch["labels"])


@dataclass
class SpanCorruption(Defaults):
    vocab: Vocab
    max_len: int = 128
    density: float = 0.15
    mean_span: float = 3.0
    name: str = "span"
    arch: str = "encoder-decoder"

    def wrap(self, model: nn.Module) -> nn.Module:
        if not self.vocab.sentinels:
            raise ValueError("span corruption needs sentinel ids in the vocabulary")
        return model

    def batch(self, docs: list, rng: random.Random) -> dict[str, Tensor]:
        seqs = [flatten(d, self.max_len - 1) for d in docs]
        return _seq2seq_batch(
            [span_corrupt(s, self.vocab.sentinels, rng, self.density, self.mean_span) for s in seqs if len(s) >= 2],
            self.vocab,
        )

    loss = staticmethod(_seq2seq_loss)


@dataclass
class Denoising(Defaults):
    vocab: Vocab
    max_len: int = 128
    ratio: float = 0.3
    permute_sentences: bool = True
    name: str = "denoise"
    arch: str = "encoder-decoder"

    def wrap(self, model: nn.Module) -> nn.Module:
        return model

    def batch(self, docs: list, rng: random.Random) -> dict[str, Tensor]:
        g = torch.Generator().manual_seed(rng.getrandbits(63))
        pairs = []
        for doc in docs:
            original = flatten(doc, self.max_len - 1)
            sentences = [list(s) for s in doc]
            if self.permute_sentences:
                rng.shuffle(sentences)
            shuffled = flatten(sentences, self.max_len - 1)
            pairs.append((infill(shuffled, self.vocab.mask, rng, self.ratio, g=g), original))
        return _seq2seq_batch(pairs, self.vocab)

    loss = staticmethod(_seq2seq_loss)
