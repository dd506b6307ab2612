"""Weight sharing (LeCun et al. 1998): a LeNet-style CNN against a dense network on images.

A convolution applies one small filter at every position of the image, so a layer's parameter count
depends on the filter size, not on the image size, and what it learns at one place it knows at every
place. A dense layer has a separate weight for every (pixel, unit) pair. The claim: with a fraction of
the parameters, the shared filters classify better. The control: a fixed random permutation of the
pixels (the same for every image) destroys the neighbourhoods the filters rely on but leaves a dense
network's task unchanged (it is invariant to any fixed ordering of its inputs), so the CNN's lead should
vanish.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class LeNet(nn.Module):
    """LeNet-5's shape (two 5x5 convolution + pooling stages, then two dense layers) with ReLU and max-
    pooling as modern re-implementations use; 28x28 input padded by 2 as LeNet-5's 32x32 input was."""

    def __init__(self, c1: int = 20, c2: int = 40, hidden: int = 100, classes: int = 10):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, c1, 5, padding=2),  # 28x28
            nn.ReLU(),
            nn.MaxPool2d(2),  # 14x14
            nn.Conv2d(c1, c2, 5),  # 10x10
            nn.ReLU(),
            nn.MaxPool2d(2),  # 5x5
            nn.Flatten(),
            nn.Linear(c2 * 5 * 5, hidden),
            nn.ReLU(),
            nn.Linear(hidden, classes),
        )

    def forward(self, images: Tensor) -> Tensor:
        return self.net(images)


class MLP(nn.Module):
    """A dense network on the flattened pixels (two hidden ReLU layers, as in Simard et al. 2003's 800-800)."""

    def __init__(self, hidden: int = 800, pixels: int = 784, classes: int = 10):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(pixels, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, classes),
        )

    def forward(self, images: Tensor) -> Tensor:
        return self.net(images)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def permute_pixels(images: Tensor, seed: int) -> Tensor:
    """Every image's pixels reordered by one fixed random permutation (the control's input)."""
    n, c, h, w = images.shape
    order = torch.randperm(h * w, generator=torch.Generator().manual_seed(seed))
    return images.reshape(n, c, h * w)[:, :, order].reshape(n, c, h, w)


def fit(model: nn.Module, x: Tensor, y: Tensor, epochs: int, batch: int, lr: float, seed: int) -> list[float]:
    """Adam on cross-entropy over shuffled minibatches; returns the mean loss of each epoch."""
    order_rng = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(epochs):
        order, total = torch.randperm(len(x), generator=order_rng), 0.0
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / len(x))
    return losses


def accuracy(model: nn.Module, x: Tensor, y: Tensor, batch: int = 1000) -> float:
    model.eval()
    with torch.no_grad():
        right = sum(int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum()) for i in range(0, len(x), batch))
    return right / len(x)
