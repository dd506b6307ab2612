"""Samples of a DiT scored under the metrics package's protocol (metrics/images.py): FID-CNN against the
10,000 real test images in the feature space of the Fashion-MNIST classifier trained here, and CAS (the
classifier's accuracy on samples labelled by the class they were drawn for). Samples of a model trained
below 28 x 28 are resized to 28 x 28 (bilinear) first. Equal numbers of samples per class."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import TcatError
from .sampling import sample
from .schedules import Schedule

SIZE = 28  # what the metrics' classifier reads


def scorer(setting=None):
    """The shared judge (cached classifier + test-set statistics), as lineage-vae and lineage-gan use it;
    `setting` (metrics.classifier.Setting) defaults to the protocol's classifier."""
    from ..data.cache import cache_dir
    from ..data.images import load_images
    from ..metrics.classifier import Setting
    from ..metrics.images import Scorer

    return Scorer(load_images("fashion-mnist"), cache_dir() / "metrics", setting or Setting())


def balanced_labels(n: int, n_classes: int = 10) -> torch.Tensor:
    """n labels, n / n_classes of each class (n must be a multiple of the class count)."""
    if n < n_classes or n % n_classes:
        raise TcatError(f"--samples must be a positive multiple of {n_classes} (equal samples per class), got {n}")
    return torch.arange(n_classes).repeat_interleave(n // n_classes)


def to_pixels(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] images at any size -> [0, 1] at 28 x 28 (what the metrics read)."""
    x = (images.clamp(-1, 1) + 1) / 2
    if x.shape[-1] != SIZE:
        x = F.interpolate(x, size=SIZE, mode="bilinear", align_corners=False).clamp(0, 1)
    return x


def score(model, schedule: Schedule, judge, n: int, steps: int, guidance: float, sampler: str = "ddim",
          eta: float = 0.0, seed: int = 0, progress=None) -> dict:  # fmt: skip
    """FID-CNN and CAS of n class-balanced samples, and the samples themselves ([-1, 1], model size)."""
    labels = balanced_labels(n, model.config.dit.n_classes)
    images = sample(model, schedule, labels, steps, sampler, guidance, eta, seed, progress=progress)
    result = judge.score(to_pixels(images), labels)
    return {**result, "steps": steps, "guidance": guidance, "sampler": sampler, "eta": eta, "images": images}
