"""The metrics' judge: a small Fashion-MNIST CNN trained here, once, and kept in a cache as safetensors.

Its penultimate layer (`features`, 128 ReLU units) is the space FID-CNN measures distances in; its
class prediction is what CAS scores. The weights depend only on the training setting and the data, so
the cache file is named by the sha256 of both: a changed setting or data set trains a new classifier
instead of silently reusing another's. Weights are read with safetensors only; anything else at the
path (a pickle, a truncated file, another setting's weights) is a miss and is trained over.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import TcatError
from ..files import write_bytes

FORMAT = "tcat-fashion-cnn-v1"  # bump when the network or the training loop changes


@dataclass(frozen=True)
class Setting:
    """How the classifier is trained. The defaults reach about 91% test accuracy in 3 epochs
    (about 40 CPU seconds on one thread); tests use a smaller one."""

    width: int = 16  # channels of the first convolution (the second has twice as many)
    features: int = 128  # the penultimate width: FID-CNN's feature dimension
    epochs: int = 3
    batch: int = 128
    lr: float = 2e-3
    n_train: int = 60000  # the first n training images
    seed: int = 0


class FashionCNN(nn.Module):
    """conv3x3(w) - ReLU - pool - conv3x3(2w) - ReLU - pool - linear(features) - ReLU | linear(classes)."""

    def __init__(self, width: int = 16, features: int = 128, classes: int = 10):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * width * 7 * 7, features),
            nn.ReLU(),
        )
        self.head = nn.Linear(features, classes)

    def features(self, images: Tensor) -> Tensor:
        return self.body(images)

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.body(images))


def digest(setting: Setting, images: Tensor, labels: Tensor) -> str:
    """sha256 of the format, the setting and the training data actually used (as bytes)."""
    h = hashlib.sha256(FORMAT.encode())
    h.update(json.dumps(dataclasses.asdict(setting), sort_keys=True).encode())
    n = min(setting.n_train, len(images))
    h.update(images[:n].mul(255).round().to(torch.uint8).numpy().tobytes())
    h.update(labels[:n].to(torch.int64).numpy().tobytes())
    return h.hexdigest()


def train(setting: Setting, images: Tensor, labels: Tensor) -> FashionCNN:
    """Adam on cross-entropy, shuffled minibatches; initialisation and order come from the seed only."""
    n = min(setting.n_train, len(images))
    images, labels = images[:n], labels[:n]
    with torch.random.fork_rng(devices=[]):  # the caller's global RNG stream is left as it was
        torch.manual_seed(setting.seed)
        model = FashionCNN(setting.width, setting.features)
    order_rng = torch.Generator().manual_seed(setting.seed)
    opt = torch.optim.Adam(model.parameters(), lr=setting.lr)
    model.train()
    for _ in range(setting.epochs):
        order = torch.randperm(n, generator=order_rng)
        for start in range(0, n, setting.batch):
            idx = order[start : start + setting.batch]
            loss = nn.functional.cross_entropy(model(images[idx]), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


def _read(path: Path, key: str, setting: Setting) -> FashionCNN | None:
    """The cached classifier at `path` if it is safetensors written for `key`, else None."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            if (f.metadata() or {}).get("digest") != key:
                return None
            state = {k: f.get_tensor(k) for k in f.keys()}
        model = FashionCNN(setting.width, setting.features)
        model.load_state_dict(state, strict=True)  # a missing key or a wrong shape is a miss too
    except Exception:  # any unreadable cache file is a miss (data/cache.py's policy)
        return None
    return model.eval()


def _write(path: Path, key: str, setting: Setting, model: FashionCNN) -> bool:
    from safetensors.torch import save

    meta = {"digest": key, "format": FORMAT, "setting": json.dumps(dataclasses.asdict(setting))}
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, save(state, metadata=meta))
    except (OSError, TcatError):
        return False  # best effort: an unwritable cache only costs a retraining next time
    return True


def cache_path(folder: Path, key: str) -> Path:
    return Path(folder) / f"fashion-cnn-{key[:16]}.safetensors"


def load_or_train(setting: Setting, images: Tensor, labels: Tensor, folder: Path | None) -> tuple[FashionCNN, dict]:
    """The classifier for `setting` on these training images: read from `folder` when cached there,
    else trained and written there (folder None: never cached). Returns (model, info)."""
    key = digest(setting, images, labels)
    path = cache_path(folder, key) if folder is not None else None
    model = _read(path, key, setting) if path is not None else None
    info = {"classifier_digest": key[:16], "cached": model is not None}
    if model is None:
        model = train(setting, images, labels)
        info["written"] = path is not None and _write(path, key, setting, model)
    for p in model.parameters():
        p.requires_grad_(False)
    return model, info
