"""Deep autoencoders against PCA (Hinton & Salakhutdinov 2006, "Reducing the dimensionality of data with
neural networks"): a nonlinear encoder to a 30-unit code and a mirrored decoder reconstruct images with
less error than the best linear 30-dimensional projection, principal component analysis.

Deviations from the paper: ReLU layers trained end to end by Adam instead of logistic layers pretrained
as a stack of RBMs and fine-tuned by conjugate gradients (pretraining was what made deep autoencoders
trainable in 2006; with ReLU and Adam they train from a random start), and narrower layers (784-512-
256-128-30 instead of 784-1000-500-250-30) to fit a CPU budget.

PCA is written out: the top-k eigenvectors of the training images' covariance; a code is the projection
of the centred image onto them, the reconstruction maps it back and adds the mean. Among all rank-k linear
maps it has the least squared reconstruction error on the training data (Eckart-Young), which is why a
linear autoencoder can at best match it (Baldi & Hornik 1989): the control.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class PCA:
    def __init__(self, x: Tensor, k: int):
        flat = x.flatten(1).double()
        self.mean = flat.mean(0)
        centred = flat - self.mean
        values, vectors = torch.linalg.eigh(centred.T @ centred / len(flat))  # ascending eigenvalues
        self.components = vectors[:, -k:].flip(1)  # (pixels, k), largest variance first
        self.explained = float(values[-k:].sum() / values.sum())

    def reconstruct(self, x: Tensor) -> Tensor:
        flat = x.flatten(1).double() - self.mean
        return ((flat @ self.components) @ self.components.T + self.mean).float().reshape(x.shape)


class Autoencoder(nn.Module):
    """Encoder widths `sizes` (input first, code last), the decoder mirrored; ReLU between layers, a sigmoid
    on the output (pixels are in [0, 1]) and a linear code layer, as in the paper. linear=True drops every
    nonlinearity, the control: then the whole network is one linear map of rank <= the code size."""

    def __init__(self, sizes: tuple[int, ...] = (784, 512, 256, 128, 30), linear: bool = False):
        super().__init__()
        act = nn.Identity if linear else nn.ReLU
        enc, dec = [], []
        for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
            enc += [nn.Linear(a, b)] + ([act()] if i < len(sizes) - 2 else [])  # the code stays linear
        back = sizes[::-1]
        for i, (a, b) in enumerate(zip(back, back[1:])):
            dec += [nn.Linear(a, b)] + ([act()] if i < len(back) - 2 else [])
        self.encoder = nn.Sequential(nn.Flatten(), *enc)
        self.decoder = nn.Sequential(*dec, nn.Identity() if linear else nn.Sigmoid())

    def forward(self, images: Tensor) -> Tensor:
        return self.decoder(self.encoder(images)).reshape(images.shape)


def fit(model: nn.Module, x: Tensor, epochs: int, batch: int, lr: float, seed: int) -> list[float]:
    """Adam on the mean squared reconstruction error; returns each epoch's mean training loss."""
    order_rng = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        order, total = torch.randperm(len(x), generator=order_rng), 0.0
        for start in range(0, len(x), batch):
            rows = x[order[start : start + batch]]
            loss = nn.functional.mse_loss(model(rows), rows)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(rows)
        losses.append(total / len(x))
    return losses


def mse(model_or_pca, x: Tensor, batch: int = 2000) -> float:
    """Mean squared error per pixel over the images x."""
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(x), batch):
            rows = x[start : start + batch]
            out = model_or_pca.reconstruct(rows) if isinstance(model_or_pca, PCA) else model_or_pca(rows)
            total += float((out - rows).square().sum())
    return total / x.numel()
