"""Generative adversarial networks (Goodfellow et al. 2014) in the DCGAN style (Radford, Metz & Chintala
2015), class-conditional (Mirza & Osindero 2014) so that samples can be scored by class (CAS).

Two networks play a minimax game: the discriminator D(x, y) is trained to output 1 on real images and 0
on generated ones; the generator G(z, y) is trained so that D outputs 1 on its images. With the logistic
loss, D's step minimises  -log D(x, y) - log(1 - D(G(z, y), y))  and G's step the "non-saturating" loss
-log D(G(z, y), y) (the paper's §3 advice: log(1 - D(G(z))) saturates early, when D rejects G's samples
with confidence). DCGAN's recipe: transposed convolutions up, strided convolutions down, batch norm in
both networks (not on G's output or D's input), ReLU in G, LeakyReLU(0.2) in D, tanh output on images
scaled to [-1, 1], Adam with lr 2e-4 and beta1 0.5. Deviation: narrower layers (a CPU budget).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Generator(nn.Module):
    def __init__(self, z: int = 64, width: int = 64, classes: int = 10):
        super().__init__()
        self.z, self.width = z, width
        self.embed = nn.Embedding(classes, classes)
        self.project = nn.Sequential(nn.Linear(z + classes, 2 * width * 7 * 7), nn.BatchNorm1d(2 * width * 7 * 7),
                                     nn.ReLU())  # fmt: skip
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1),  # 7 -> 14
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, 2, 1),  # 14 -> 28
            nn.Tanh(),
        )

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        h = self.project(torch.cat([z, self.embed(y)], 1)).reshape(-1, 2 * self.width, 7, 7)
        return self.up(h)

    @torch.no_grad()
    def sample(self, y: Tensor, gen: torch.Generator) -> Tensor:
        """Images in [0, 1] for labels y (batch norm in inference mode: its running statistics)."""
        self.eval()
        out = (self(torch.randn(len(y), self.z, generator=gen), y) + 1) / 2
        return out.clamp(0, 1)


class Discriminator(nn.Module):
    """The label enters as 10 constant one-hot planes beside the image (the conditional GAN's concatenation)."""

    def __init__(self, width: int = 64, classes: int = 10):
        super().__init__()
        self.classes = classes
        self.net = nn.Sequential(
            nn.Conv2d(1 + classes, width, 4, 2, 1),  # 28 -> 14
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1),  # 14 -> 7
            nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(2 * width * 7 * 7, 1),
        )

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        planes = nn.functional.one_hot(y, self.classes).float()[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return self.net(torch.cat([x, planes], 1)).squeeze(1)  # a logit: D = sigmoid(logit)


def train(G: Generator, D: Discriminator, x: Tensor, y: Tensor, epochs: int, batch: int, lr: float, seed: int):
    """Alternating steps, one for D then one for G per minibatch; x in [0, 1] (rescaled to [-1, 1] here).
    Returns per-step (D loss, G loss, mean D(real), mean D(fake))."""
    gen = torch.Generator().manual_seed(seed)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    bce = nn.functional.binary_cross_entropy_with_logits
    history = []
    G.train()
    D.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x) - batch + 1, batch):  # full batches only (batch norm statistics)
            idx = order[start : start + batch]
            real, labels = x[idx] * 2 - 1, y[idx]
            fake = G(torch.randn(batch, G.z, generator=gen), labels)
            # D: real -> 1, fake -> 0 (the fake is detached: this step must not move G)
            d_real, d_fake = D(real, labels), D(fake.detach(), labels)
            loss_d = bce(d_real, torch.ones(batch)) + bce(d_fake, torch.zeros(batch))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            # G: the non-saturating loss -log D(G(z)), through the just-updated D
            loss_g = bce(D(fake, labels), torch.ones(batch))
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            d_means = torch.sigmoid(torch.stack([d_real, d_fake]).detach()).mean(1)
            history.append((loss_d.item(), loss_g.item(), float(d_means[0]), float(d_means[1])))
    return history
