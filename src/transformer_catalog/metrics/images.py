"""FID-CNN and CAS of generated Fashion-MNIST images under one protocol (see the package docstring).

    scorer = Scorer(load_images("fashion-mnist"), cache_dir() / "metrics")
    scorer.score(samples, labels)   # {"fid_cnn": ..., "cas": ..., "n_samples": ...}
    scorer.reference()              # the same numbers for real training images

The protocol: features of the samples against those of all real test images; CAS is the share of samples
the classifier assigns to the class they were generated for. Use 10,000 samples (1,000 per class) for
numbers comparable across generators: the Fréchet distance is biased upwards for small sample counts.
The data set and the cache folder are passed in because this package sits below data/ in the layers.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from ..errors import TcatError
from .classifier import FashionCNN, Setting, load_or_train
from .frechet import frechet_features, gaussian

N_CLASSES = 10
SIZE = 28


def check_samples(samples: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """(N, 1, 28, 28) float images in [0, 1] and (N,) labels in 0..9, or one line saying what is wrong."""
    if not isinstance(samples, Tensor) or not isinstance(labels, Tensor):
        raise TcatError("samples and labels must be torch tensors")
    x = samples[:, None] if samples.dim() == 3 else samples
    if x.dim() != 4 or tuple(x.shape[1:]) != (1, SIZE, SIZE):
        raise TcatError(f"samples have shape {tuple(samples.shape)}; expected (N, 1, {SIZE}, {SIZE})")
    if labels.dim() != 1 or len(labels) != len(x):
        raise TcatError(f"labels have shape {tuple(labels.shape)}; expected ({len(x)},), one per sample")
    if len(x) < 2:
        raise TcatError("need at least 2 samples for a covariance")
    if labels.is_floating_point() or int(labels.min()) < 0 or int(labels.max()) >= N_CLASSES:
        raise TcatError(f"labels must be integers in 0..{N_CLASSES - 1}")
    x = x.float()
    if not torch.isfinite(x).all() or float(x.min()) < -1e-3 or float(x.max()) > 1 + 1e-3:
        raise TcatError("samples must be finite pixel values in [0, 1] (clamp or rescale them first)")
    return x.clamp(0, 1), labels.long()


class Scorer:
    """The classifier (trained once per setting, cached) and the real test set's feature statistics."""

    def __init__(self, data: dict, cache: Path | None = None, setting: Setting = Setting()):
        train_x, train_y = data["train"]
        self.data = data
        self.model, self.info = load_or_train(setting, train_x, train_y, cache)
        test_x, self.test_y = data["test"]
        self.test_features, self.test_logits = self._run(test_x)
        self.test_stats = gaussian(self.test_features)

    def _run(self, images: Tensor, batch: int = 1000) -> tuple[Tensor, Tensor]:
        model: FashionCNN = self.model
        feats, logits = [], []
        with torch.no_grad():
            for start in range(0, len(images), batch):
                f = model.features(images[start : start + batch])
                feats.append(f)
                logits.append(model.head(f))
        return torch.cat(feats), torch.cat(logits)

    def score(self, samples: Tensor, labels: Tensor) -> dict:
        """FID-CNN of the samples against the real test images, and CAS (accuracy on their labels)."""
        x, y = check_samples(samples, labels)
        feats, logits = self._run(x)
        return {
            "fid_cnn": frechet_features(feats, self.test_features),
            "cas": float((logits.argmax(1) == y).float().mean()),
            "n_samples": len(x),
        }

    def reference(self, n: int = 10000, seed: int = 0) -> dict:
        """What real data scores: n training images (a fixed random subset) against the test set, and
        the classifier's accuracy on the test set (the ceiling CAS is read against)."""
        train_x, train_y = self.data["train"]
        pick = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(seed))[:n]
        feats, _ = self._run(train_x[pick])
        return {
            "fid_cnn": frechet_features(feats, self.test_features),
            "cas": float((self.test_logits.argmax(1) == self.test_y).float().mean()),
            "n_samples": len(pick),
        }
