"""Image classification data, from packages (nothing is downloaded at run time).

fashion-mnist   Zalando's 60,000 + 10,000 28x28 clothing images, 10 classes (Debian dataset-fashion-mnist)
digits          scikit-learn's 1,797 8x8 handwritten digits (a fixed 80/20 split), for tests and quick runs
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch

from ..errors import TcatError

FASHION_ROOT = Path(os.environ.get("TCAT_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
IMAGE_SOURCES = ("fashion-mnist", "digits")


def _idx(path: Path) -> np.ndarray:
    """A gzipped IDX file (the MNIST format): two zero bytes, dtype 0x08 (uint8), rank, the sizes
    (4 bytes each, big-endian), then the data. A damaged file is one line naming it."""

    def bad(problem: str) -> TcatError:
        return TcatError(f"{path}: {problem}; reinstall it (apt-get install --reinstall dataset-fashion-mnist)")

    if not path.is_file():
        raise bad("missing")
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except EOFError:
        raise bad("truncated (the gzip stream ends early)") from None
    except (OSError, gzip.BadGzipFile) as e:
        raise bad(f"not a readable gzip file ({e})") from None
    if len(data) < 4 or data[:3] != b"\x00\x00\x08" or not 1 <= data[3] <= 4:
        raise bad("not an IDX file of bytes (wrong magic number)")
    rank = data[3]
    if len(data) < 4 + 4 * rank:
        raise bad("truncated (the header is incomplete)")
    sizes = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank)]
    expected = 4 + 4 * rank + int(np.prod(sizes))
    if len(data) != expected:
        raise bad(f"holds {len(data):,} bytes where its header announces {expected:,} (truncated or damaged)")
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(sizes)


def load_images(name: str) -> dict:
    """{"train": (images (N, 1, H, W) float in [0, 1], labels (N,)), "test": ..., "classes": [...]}."""
    if name == "fashion-mnist":
        if not (FASHION_ROOT / "train-images-idx3-ubyte.gz").is_file():
            raise TcatError(f"Fashion-MNIST not found in {FASHION_ROOT}: apt-get install dataset-fashion-mnist")
        out = {"classes": list(FASHION_CLASSES)}
        for split, prefix in (("train", "train"), ("test", "t10k")):
            x = torch.from_numpy(_idx(FASHION_ROOT / f"{prefix}-images-idx3-ubyte.gz").copy()).float().div(255)
            y = torch.from_numpy(_idx(FASHION_ROOT / f"{prefix}-labels-idx1-ubyte.gz").copy()).long()
            if x.dim() != 3 or y.dim() != 1 or len(x) != len(y):
                raise TcatError(
                    f"{FASHION_ROOT}: {prefix} images {tuple(x.shape)} and labels {tuple(y.shape)} do not "
                    "match; reinstall it (apt-get install --reinstall dataset-fashion-mnist)"
                )
            out[split] = (x[:, None], y)
        return out
    if name == "digits":
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise TcatError("dataset 'digits' needs scikit-learn: pip install scikit-learn") from None
        d = load_digits()
        x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16
        y = torch.tensor(d.target, dtype=torch.long)
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
        cut = int(0.8 * len(y))
        return {
            "classes": [str(i) for i in range(10)],
            "train": (x[order[:cut]], y[order[:cut]]),
            "test": (x[order[cut:]], y[order[cut:]]),
        }
    raise TcatError(f"unknown image dataset {name!r}: use one of {', '.join(IMAGE_SOURCES)}")
