"""Elman's simple recurrent network (1990) predicting the next letter of running text with the
spaces removed. Elman's finding: the prediction error is high at the first letter of a word and
falls through the word, so error peaks mark word boundaries the network was never shown.

  h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h)      (x_t one-hot: a row of W_xh)
  p(next letter) = softmax(W_hy h_t + b_y)

trained by backpropagation through time on chunks of the stream (truncated BPTT, the state carried
from chunk to chunk), with Adam rather than Elman's plain gradient steps to fit a CPU budget.
"""

from __future__ import annotations

import math
import re

import torch
from torch import nn

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def letter_stream(texts: list[str]) -> tuple[list[int], list[bool]]:
    """The letters of `texts` (lower-cased; spaces, digits and punctuation dropped) as indices, and for
    each whether it begins a word of the original text."""
    ids, initial = [], []
    for text in texts:
        for word in re.findall(r"[a-z]+", text.lower()):
            ids += [LETTERS.index(ch) for ch in word]
            initial += [True] + [False] * (len(word) - 1)
    return ids, initial


class Elman(nn.Module):
    def __init__(self, hidden: int, n_symbols: int = len(LETTERS)):
        super().__init__()
        self.hidden = hidden
        self.w_xh = nn.Parameter(torch.randn(n_symbols, hidden) * 0.1)
        self.w_hh = nn.Parameter(torch.empty(hidden, hidden))
        nn.init.orthogonal_(self.w_hh)
        self.b_h = nn.Parameter(torch.zeros(hidden))
        self.out = nn.Linear(hidden, n_symbols)  # W_hy, b_y

    def forward(self, ids: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ids (batch, steps) -> logits (batch, steps, symbols) for the letter after each, last state."""
        states = []
        for t in range(ids.shape[1]):
            h = torch.tanh(self.w_xh[ids[:, t]] + h @ self.w_hh + self.b_h)
            states.append(h)
        return self.out(torch.stack(states, 1)), h


def train_elman(ids: list[int], hidden: int, steps: int, chunk: int, batch: int, lr: float, seed: int):
    """`batch` parallel streams over the training letters; returns (model, [(step, loss in bits)])."""
    torch.manual_seed(seed)
    model = Elman(hidden)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    data = torch.tensor(ids)
    per = (len(data) - 1) // batch
    streams = data[: per * batch + 1]
    starts = torch.arange(batch) * per
    h = torch.zeros(batch, hidden)
    pos, curve = 0, []
    for step in range(1, steps + 1):
        if pos + chunk + 1 > per:  # a new pass over the text: start from a blank state
            pos, h = 0, torch.zeros(batch, hidden)
        idx = starts[:, None] + pos + torch.arange(chunk + 1)
        x, y = streams[idx[:, :-1]], streams[idx[:, 1:]]
        logits, h = model(x, h)
        h = h.detach()  # truncated BPTT: gradients stop at the chunk's start, the state does not
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        curve.append((step, loss.item() / math.log(2)))
        pos += chunk
    return model, curve


@torch.no_grad()
def surprisal(model: Elman, ids: list[int]) -> list[float]:
    """-log2 p(letter | all letters before it) for every letter after the first, one stream."""
    x = torch.tensor(ids)
    logits, _ = model(x[None, :-1], torch.zeros(1, model.hidden))
    logp = torch.log_softmax(logits[0], -1)
    return (-logp[torch.arange(len(ids) - 1), x[1:]] / math.log(2)).tolist()


def unigram_surprisal(train: list[int], ids: list[int]) -> list[float]:
    """The same measure for letter frequencies alone (add-one smoothed): no context at all."""
    counts = torch.bincount(torch.tensor(train), minlength=len(LETTERS)).double() + 1
    bits = -torch.log2(counts / counts.sum())
    return bits[torch.tensor(ids[1:])].tolist()


def by_position(bits: list[float], initial: list[bool], longest: int = 6) -> dict[int, float]:
    """Mean surprisal by position in the word (1 = first letter; `longest` gathers the rest). `bits`
    and `initial` are aligned: bits[i] is the surprisal of letter i + 1."""
    sums, counts, pos = [0.0] * (longest + 1), [0] * (longest + 1), 1  # letter 0 (not predicted) starts a word
    for b, first in zip(bits, initial[1:]):
        pos = 1 if first else pos + 1
        k = min(pos, longest)
        sums[k] += b
        counts[k] += 1
    return {k: sums[k] / counts[k] for k in range(1, longest + 1) if counts[k]}


def boundary_gap(bits: list[float], initial: list[bool]) -> tuple[float, float]:
    """(mean surprisal of word-initial letters, of word-internal letters), in bits."""
    first = [b for b, i in zip(bits, initial[1:]) if i]
    inner = [b for b, i in zip(bits, initial[1:]) if not i]
    return sum(first) / len(first), sum(inner) / len(inner)
