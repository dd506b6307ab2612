"""The variational autoencoder (Kingma & Welling 2013, "Auto-encoding variational Bayes"), class-
conditional as in Kingma et al. 2014 / Sohn et al. 2015 so that its samples can be scored by class (CAS).

An encoder gives q(z | x, y) = N(mu, diag(exp(logvar))); a decoder gives p(x | z, y), a Bernoulli per pixel.
Training maximises the evidence lower bound
    ELBO = E_q[log p(x | z, y)] - KL(q(z | x, y) || N(0, I))  <=  log p(x | y)
with one sample z = mu + exp(logvar / 2) * eps, eps ~ N(0, I) (the reparameterisation trick, which
lets the gradient pass through the sampling), and the KL term in closed form:
    KL = -1/2 sum(1 + logvar - mu² - exp(logvar)).
Pixels are grey levels in [0, 1] used as Bernoulli targets (binary cross-entropy), the common practice
for (Fashion-)MNIST; for non-binary pixels this is not a normalised density, so the ELBO is comparable
only with models scored the same way. The KL term is what makes the prior N(0, I) a usable sampler:
`kl_weight=0` (the control) keeps the same network and noise but lets the codes drift anywhere.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

PIXELS = 28 * 28


class VAE(nn.Module):
    def __init__(self, latent: int = 16, hidden: int = 400, classes: int = 10):
        super().__init__()
        self.latent, self.classes = latent, classes
        self.encoder = nn.Sequential(nn.Linear(PIXELS + classes, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent))
        self.decoder = nn.Sequential(nn.Linear(latent + classes, hidden), nn.ReLU(), nn.Linear(hidden, PIXELS))

    def _onehot(self, y: Tensor | None, n: int) -> Tensor:
        if self.classes == 0:
            return torch.zeros(n, 0)
        return nn.functional.one_hot(y, self.classes).float()

    def encode(self, x: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
        mu, logvar = self.encoder(torch.cat([x.flatten(1), self._onehot(y, len(x))], 1)).chunk(2, 1)
        return mu, logvar

    def decode_logits(self, z: Tensor, y: Tensor | None) -> Tensor:
        return self.decoder(torch.cat([z, self._onehot(y, len(z))], 1))

    def elbo(self, x: Tensor, y: Tensor | None, gen: torch.Generator | None = None, kl_weight: float = 1.0):
        """Per-image (reconstruction log-likelihood, KL) with one reparameterised sample; the training
        objective is their difference (KL scaled by kl_weight)."""
        mu, logvar = self.encode(x, y)
        eps = torch.randn(mu.shape, generator=gen)
        z = mu + torch.exp(0.5 * logvar) * eps
        logits = self.decode_logits(z, y)
        rec = -nn.functional.binary_cross_entropy_with_logits(logits, x.flatten(1), reduction="none").sum(1)
        kl = -0.5 * (1 + logvar - mu.square() - logvar.exp()).sum(1)
        return rec, kl

    @torch.no_grad()
    def sample(self, y: Tensor, gen: torch.Generator) -> Tensor:
        """Images decoded from the prior: z ~ N(0, I), the decoder's pixel means (no pixel noise)."""
        z = torch.randn(len(y), self.latent, generator=gen)
        return torch.sigmoid(self.decode_logits(z, y)).reshape(-1, 1, 28, 28)


def fit(model: VAE, x: Tensor, y: Tensor | None, epochs: int, batch: int, lr: float, seed: int,
        kl_weight: float = 1.0) -> list[float]:  # fmt: skip
    """Adam on -(rec - kl_weight * KL) per image; returns each epoch's mean negative objective."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        order, total = torch.randperm(len(x), generator=gen), 0.0
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            rec, kl = model.elbo(x[idx], None if y is None else y[idx], gen)
            loss = -(rec - kl_weight * kl).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / len(x))
    return losses


@torch.no_grad()
def test_elbo(model: VAE, x: Tensor, y: Tensor | None, seed: int = 0, batch: int = 2000) -> float:
    """Mean ELBO per test image in nats (one posterior sample per image; the KL term exact)."""
    gen, total = torch.Generator().manual_seed(seed), 0.0
    for start in range(0, len(x), batch):
        rec, kl = model.elbo(x[start : start + batch], None if y is None else y[start : start + batch], gen)
        total += float((rec - kl).sum())
    return total / len(x)


def independent_pixels_loglik(train_x: Tensor, train_y: Tensor, x: Tensor, y: Tensor) -> float:
    """The no-latent baseline scored the same way: each pixel an independent Bernoulli with its class's
    mean grey level; mean log-likelihood per test image in nats."""
    means = torch.stack([train_x[train_y == c].flatten(1).mean(0) for c in range(int(train_y.max()) + 1)])
    p = means[y].clamp(1e-4, 1 - 1e-4)
    t = x.flatten(1)
    return float((t * p.log() + (1 - t) * (1 - p).log()).sum(1).mean())
