"""The Fréchet distance between two Gaussians (Dowson & Landau 1982), as FID uses it (Heusel et al. 2017):

  d² = |mu1 - mu2|² + Tr(S1 + S2 - 2 (S1 S2)^½)

(S1 S2)^½ is not symmetric, but S1 S2 is similar to S1^½ S2 S1^½ (conjugate by S1^½), which is symmetric
positive semi-definite, so Tr (S1 S2)^½ = Σ sqrt(eigenvalues of S1^½ S2 S1^½). Two symmetric eigen-
decompositions replace scipy's general sqrtm: real by construction, and no complex round-off to discard.
"""

from __future__ import annotations

import torch
from torch import Tensor


def gaussian(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and (unbiased) covariance of row vectors, in float64 (the trace is a difference of large sums)."""
    x = features.double()
    if x.dim() != 2 or len(x) < 2:
        raise ValueError(f"need at least two feature rows, got shape {tuple(x.shape)}")
    mu = x.mean(0)
    centred = x - mu
    return mu, centred.T @ centred / (len(x) - 1)


def _sqrt_psd(matrix: Tensor) -> Tensor:
    """The symmetric square root of a symmetric PSD matrix; round-off negatives clipped to zero."""
    values, vectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance(mu1: Tensor, s1: Tensor, mu2: Tensor, s2: Tensor) -> float:
    """d² between N(mu1, s1) and N(mu2, s2) (what FID reports, without taking the root)."""
    mu1, s1, mu2, s2 = (t.double() for t in (mu1, s1, mu2, s2))
    root = _sqrt_psd(s1)
    middle = root @ s2 @ root
    trace_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    d2 = (mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * trace_sqrt
    return max(float(d2), 0.0)  # identical Gaussians give ~1e-12 of either sign


def frechet_features(a: Tensor, b: Tensor) -> float:
    """The Fréchet distance between Gaussians fitted to two sets of feature rows."""
    return frechet_distance(*gaussian(a), *gaussian(b))
