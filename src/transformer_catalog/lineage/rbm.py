"""The restricted Boltzmann machine and contrastive divergence (Hinton 2002; Hinton, Osindero & Teh 2006),
the layer deep belief networks were stacked from, one greedy layer at a time.

A binary RBM has visible units v, hidden units h and energy E(v, h) = -b.v - c.h - v.W.h; with no
connections inside a layer, both conditionals factorise:
    p(h_j = 1 | v) = sigmoid(c_j + v.W[:, j])        p(v_i = 1 | h) = sigmoid(b_i + W[i, :].h)
The log-likelihood gradient is <v h>_data - <v h>_model; CD-1 replaces the model's expectation by one
Gibbs step started at the data: sample h0 ~ p(h | v0), reconstruct v1 = p(v | h0), then p(h | v1).
Following Hinton's practical guide (2010), the hidden states driving the reconstruction are sampled (an
information bottleneck), the reconstruction and the statistics use probabilities (less noise).
The hidden probabilities p(h | v) are the learned features a classifier is then trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class RBM:
    W: Tensor  # (visible, hidden)
    b: Tensor  # visible biases
    c: Tensor  # hidden biases

    @classmethod
    def init(cls, visible: int, hidden: int, gen: torch.Generator, data_mean: Tensor | None = None) -> RBM:
        """Small random weights (N(0, 0.01²)); visible biases log(p / (1 - p)) of the data's pixel means,
        so that at the start the reconstruction already has the right average (the practical guide, §8)."""
        b = torch.zeros(visible)
        if data_mean is not None:
            p = data_mean.clamp(1e-3, 1 - 1e-3)
            b = torch.log(p / (1 - p))
        return cls(0.01 * torch.randn(visible, hidden, generator=gen), b, torch.zeros(hidden))

    def hidden_probs(self, v: Tensor) -> Tensor:
        return torch.sigmoid(v @ self.W + self.c)

    def visible_probs(self, h: Tensor) -> Tensor:
        return torch.sigmoid(h @ self.W.T + self.b)


def cd1_step(rbm: RBM, v0: Tensor, lr: float, gen: torch.Generator, velocity: dict, momentum: float = 0.5,
             weight_decay: float = 1e-4) -> float:  # fmt: skip
    """One CD-1 update on a batch of visible vectors in [0, 1] (in place); returns the batch's
    reconstruction error (squared, per pixel), the quantity the guide suggests watching."""
    ph0 = rbm.hidden_probs(v0)
    h0 = (torch.rand(ph0.shape, generator=gen) < ph0).float()  # sampled: the bottleneck
    v1 = rbm.visible_probs(h0)
    ph1 = rbm.hidden_probs(v1)
    n = len(v0)
    grads = {
        "W": (v0.T @ ph0 - v1.T @ ph1) / n - weight_decay * rbm.W,  # <v h>_data - <v h>_recon
        "b": (v0 - v1).mean(0),
        "c": (ph0 - ph1).mean(0),
    }
    for name, g in grads.items():
        velocity[name] = momentum * velocity.get(name, torch.zeros_like(g)) + lr * g
        setattr(rbm, name, getattr(rbm, name) + velocity[name])  # gradient *ascent* on the likelihood
    return float((v0 - v1).square().mean())


def train_rbm(x: Tensor, hidden: int, epochs: int, batch: int, lr: float, seed: int) -> tuple[RBM, list[float]]:
    """CD-1 over shuffled minibatches of rows of x (values in [0, 1]); momentum 0.5 for the first 5
    epochs, then 0.9 (the guide's schedule). Returns the RBM and each epoch's reconstruction error."""
    gen = torch.Generator().manual_seed(seed)
    rbm = RBM.init(x.shape[1], hidden, gen, x.mean(0))
    velocity: dict = {}
    errors = []
    for epoch in range(epochs):
        order, total = torch.randperm(len(x), generator=gen), 0.0
        for start in range(0, len(x), batch):
            rows = x[order[start : start + batch]]
            total += cd1_step(rbm, rows, lr, gen, velocity, momentum=0.5 if epoch < 5 else 0.9) * len(rows)
        errors.append(total / len(x))
    return rbm, errors


def logistic_regression(x: Tensor, y: Tensor, classes: int, l2: float, steps: int = 500) -> tuple[Tensor, Tensor]:
    """Multinomial logistic regression: softmax(xW + b) minimising the mean cross-entropy + l2/2 |W|²,
    run to convergence by L-BFGS in float64 (the loss is convex, so raw pixels and features both reach
    their optimum: a comparison between under-trained classifiers would say nothing). Returns (W, b)."""
    xb = x.double()
    W = torch.zeros(x.shape[1], classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], max_iter=steps, tolerance_grad=1e-9, tolerance_change=1e-12,
                            history_size=20, line_search_fn="strong_wolfe")  # fmt: skip

    def loss():
        opt.zero_grad()
        value = torch.nn.functional.cross_entropy(xb @ W + b, y) + l2 / 2 * W.square().sum()
        value.backward()
        return value

    opt.step(loss)
    return W.detach().float(), b.detach().float()


def lr_accuracy(W: Tensor, b: Tensor, x: Tensor, y: Tensor) -> float:
    return float(((x @ W + b).argmax(1) == y).float().mean())


def best_l2_accuracy(train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, l2s, classes: int = 10,
                     steps: int = 500) -> tuple[float, float]:  # fmt: skip
    """(test accuracy, chosen l2): each l2 is tried on a held-out fifth of the training set, the best
    refitted on all of it, so raw pixels and learned features get the same tuning."""
    cut = len(train_x) * 4 // 5
    scores = []
    for l2 in l2s:
        W, b = logistic_regression(train_x[:cut], train_y[:cut], classes, l2, steps)
        scores.append((lr_accuracy(W, b, train_x[cut:], train_y[cut:]), -l2))  # ties: the stronger penalty
    l2 = -max(scores)[1]
    W, b = logistic_regression(train_x, train_y, classes, l2, steps)
    return lr_accuracy(W, b, test_x, test_y), l2
