"""Backpropagation written out (Rumelhart, Hinton & Williams 1986): the generalised delta rule for
one hidden layer of logistic units, squared error, full-batch gradient descent with momentum, as in
the paper's XOR and encoder experiments. No autograd: the deltas are computed by hand, so the test
that compares them with autograd's checks the rule itself.

  forward   h = f(x W1 + b1), y = sigmoid(h W2 + b2)     f = sigmoid (or identity: the linear control)
  deltas    d2 = (y - t) y (1 - y);  d1 = (d2 W2^T) f'(h)
  update    dW = -lr dE/dW + momentum dW_prev
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


def _sigmoid(z):
    return 1.0 / (1.0 + torch.exp(-z))


@dataclass
class MLP:
    w1: torch.Tensor
    b1: torch.Tensor
    w2: torch.Tensor
    b2: torch.Tensor
    linear_hidden: bool = False  # the control: identity hidden units make the whole net a linear classifier
    # "squared" is the 1986 paper's E = 1/2 sum (y - t)^2. Its delta carries y (1 - y), which vanishes at a
    # saturated wrong output (the "flat spot" Fahlman 1988 measured on encoders); "cross-entropy" drops that
    # factor (d2 = y - t), the fix that later became standard.
    loss: str = "squared"
    losses: list[float] = field(default_factory=list)

    @classmethod
    def init(cls, n_in, n_hidden, n_out, seed: int, scale=1.0, linear_hidden=False, loss="squared") -> MLP:
        # The paper starts from small random weights (uniform, here in [-scale, scale]) to break symmetry.
        g = torch.Generator().manual_seed(seed)
        u = lambda *shape: (torch.rand(*shape, generator=g, dtype=torch.float64) * 2 - 1) * scale  # noqa: E731
        return cls(u(n_in, n_hidden), u(n_hidden), u(n_hidden, n_out), u(n_out), linear_hidden, loss)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        z = x @ self.w1 + self.b1
        return z if self.linear_hidden else _sigmoid(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.hidden(x)
        return h, _sigmoid(h @ self.w2 + self.b2)

    def gradients(self, x: torch.Tensor, t: torch.Tensor) -> tuple[float, list[torch.Tensor]]:
        """The error E and its gradients for (w1, b1, w2, b2), by the delta rule."""
        h, y = self.forward(x)
        if self.loss == "squared":
            e, d2 = 0.5 * ((y - t) ** 2).sum(), (y - t) * y * (1 - y)
        else:  # cross-entropy of independent logistic outputs
            p = y.clamp(1e-12, 1 - 1e-12)
            e, d2 = -(t * p.log() + (1 - t) * (1 - p).log()).sum(), y - t
        d1 = d2 @ self.w2.T * (torch.ones_like(h) if self.linear_hidden else h * (1 - h))
        grads = [x.T @ d1, d1.sum(0), h.T @ d2, d2.sum(0)]
        return float(e), grads

    def train(self, x: torch.Tensor, t: torch.Tensor, epochs: int, lr: float, momentum: float) -> MLP:
        params = [self.w1, self.b1, self.w2, self.b2]
        steps = [torch.zeros_like(p) for p in params]
        for _ in range(epochs):
            loss, grads = self.gradients(x, t)
            self.losses.append(loss)
            for p, s, g in zip(params, steps, grads):
                s.mul_(momentum).add_(g, alpha=-lr)
                p.add_(s)
        return self

    def accuracy(self, x: torch.Tensor, t: torch.Tensor) -> float:
        """Share of examples whose every output is on the right side of 0.5."""
        return float(((self.forward(x)[1] > 0.5) == (t > 0.5)).all(1).double().mean())


def encoder_codes(net: MLP) -> torch.Tensor:
    """The encoder's hidden code (one row per one-hot input)."""
    return net.hidden(torch.eye(net.w1.shape[0], dtype=torch.float64))


def distinct_codes(codes: torch.Tensor, min_gap: float = 0.1) -> int:
    """How many codes are told apart: greedily, codes at least `min_gap` from every kept one (max-norm).
    A gap, not mere inequality, since any two floats differ; 0.1 is a tenth of a unit's range."""
    kept: list[torch.Tensor] = []
    for c in codes:
        if all(float((c - k).abs().max()) >= min_gap for k in kept):
            kept.append(c)
    return len(kept)


def binary_codes(codes: torch.Tensor) -> int:
    """How many distinct codes remain when every hidden unit is rounded to 0 or 1."""
    return len({tuple(int(v > 0.5) for v in row) for row in codes})
