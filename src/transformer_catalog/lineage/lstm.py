"""The LSTM (Hochreiter & Schmidhuber 1997) against a plain tanh RNN on the adding problem, both cells
written out.

  tanh RNN   h_t = tanh(W [x_t, h_{t-1}] + b)
  LSTM       i, f, o = sigmoid(.), g = tanh(.)  of W [x_t, h_{t-1}] + b
             c_t = f * c_{t-1} + i * g          the cell: an additive path through time
             h_t = o * tanh(c_t)

In the RNN the error signal from step T back to step t is multiplied by W^T diag(tanh') T - t times
and vanishes; the LSTM's cell passes it on through c_t = f c_{t-1} + ... almost unchanged while the
forget gate is near 1. (The forget gate is Gers et al.'s 1999 addition; its bias starts at 1 so the
cell remembers by default, the constant error carousel of the 1997 paper.)

The adding problem (the 1997 paper's experiment 4): a sequence of T random numbers in [0, 1], two of
them marked (one in each half); the target is their sum, read only at the end. Predicting the mean
(1) without using the marks leaves MSE = Var(u1 + u2) = 2/12 = 0.167.
"""

from __future__ import annotations

import torch
from torch import nn

BASELINE_MSE = 1 / 6  # variance of a sum of two independent U(0, 1)


def adding_batch(batch: int, length: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs (batch, length, 2): value and marker, targets (batch,)): one mark in each half."""
    values = torch.rand(batch, length, generator=g)
    first = torch.randint(0, length // 2, (batch,), generator=g)
    second = torch.randint(length // 2, length, (batch,), generator=g)
    marks = torch.zeros(batch, length)
    rows = torch.arange(batch)
    marks[rows, first] = 1.0
    marks[rows, second] = 1.0
    return torch.stack([values, marks], -1), values[rows, first] + values[rows, second]


class Recurrent(nn.Module):
    """A recurrent layer (cell = "lstm" or "tanh") read out linearly at the last step."""

    def __init__(self, cell: str, n_in: int, hidden: int):
        super().__init__()
        self.cell, self.hidden = cell, hidden
        gates = 4 if cell == "lstm" else 1
        self.w = nn.Linear(n_in + hidden, gates * hidden)  # one matrix over [x_t, h_{t-1}] for all gates
        self.out = nn.Linear(hidden, 1)
        if cell == "lstm":
            with torch.no_grad():
                self.w.bias[hidden : 2 * hidden].fill_(1.0)  # forget gate open at the start
        else:  # orthogonal recurrent weights: the RNN's best chance to keep a signal (Saxe et al. 2014)
            with torch.no_grad():
                nn.init.orthogonal_(self.w.weight[:, n_in:])

    def step(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.w(torch.cat([x, h], -1))
        if self.cell == "tanh":
            return torch.tanh(z), c
        i, f, g, o = z.chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = c = x.new_zeros(x.shape[0], self.hidden)
        for t in range(x.shape[1]):
            h, c = self.step(x[:, t], h, c)
        return self.out(h).squeeze(-1)


def train_adding(cell: str, length: int, steps: int, seed: int, hidden=32, batch=32, lr=1e-2, clip=1.0, eval_n=1000):
    """Train on fresh batches; returns (model, [(step, training MSE)], test MSE on `eval_n` new sequences)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1)
    model = Recurrent(cell, 2, hidden)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    curve = []
    for step in range(1, steps + 1):
        x, y = adding_batch(batch, length, g)
        loss = ((model(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)  # one large step can undo a long run
        opt.step()
        curve.append((step, loss.item()))
    with torch.no_grad():
        x, y = adding_batch(eval_n, length, torch.Generator().manual_seed(10_000 + seed))
        return model, curve, float(((model(x) - y) ** 2).mean())
