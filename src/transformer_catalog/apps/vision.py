"""Image classification: a ViT (the core's encoder over patches, a linear head on the class token)
against a small CNN trained the same way (same optimiser, schedule, epochs, batches, no augmentation).

  tcat vision --data fashion-mnist --model vit --minutes 5
  tcat vision --data fashion-mnist --model cnn --minutes 5
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..nn.config import ModelConfig
from ..nn.model import build_model


def vit_config(image_size: int, patch: int, d_model: int = 128, layers: int = 4, heads: int = 4) -> ModelConfig:
    """A small ViT (Dosovitskiy et al.): pre-norm, GELU, learned positions, class token."""
    return ModelConfig.from_dict(
        {
            "arch": "encoder",
            "d_model": d_model,
            "n_encoder_layers": layers,
            "n_decoder_layers": 0,
            "dropout": 0.0,
            "attention": {"n_heads": heads},
            "ffn": {"d_ff": 2 * d_model, "activation": "gelu"},
            "norm": {"placement": "pre", "final": True, "eps": 1e-6},
            "position": {"kind": "learned", "max_len": (image_size // patch) ** 2 + 1},
            "embedding": {"vocab_size": 1, "scale": False},
            "vision": {"image_size": image_size, "patch_size": patch, "channels": 1},
        }
    )


class ViTClassifier(nn.Module):
    def __init__(self, cfg: ModelConfig, n_classes: int):
        super().__init__()
        self.config = cfg
        self.encoder = build_model(cfg)
        self.head = nn.Linear(cfg.d_model, n_classes)

    def forward(self, pixels: Tensor) -> Tensor:
        return self.head(self.encoder(pixels)[:, 0])


class SmallCNN(nn.Module):
    """Two 3x3 convolution blocks with max-pooling, then two linear layers (the classic baseline)."""

    def __init__(self, image_size: int, n_classes: int, width: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        side = image_size // 4
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(2 * width * side * side, 128), nn.ReLU(), nn.Linear(128, n_classes)
        )

    def forward(self, pixels: Tensor) -> Tensor:
        return self.head(self.features(pixels))


def make_classifier(kind: str, image_size: int, n_classes: int) -> nn.Module:
    from ..errors import TcatError

    if kind == "vit":
        return ViTClassifier(vit_config(image_size, 4 if image_size % 4 == 0 else 2), n_classes)
    if kind == "cnn":
        return SmallCNN(image_size, n_classes)
    raise TcatError(f"unknown vision model {kind!r}: use vit or cnn")


@dataclass
class VisionResult:
    model: str
    params: int
    epochs: float
    steps: int
    seconds: float
    test_accuracy: float
    test_loss: float


@torch.no_grad()
def evaluate(model: nn.Module, x: Tensor, y: Tensor, batch: int = 500) -> tuple[float, float]:
    model.eval()
    correct, loss = 0, 0.0
    for i in range(0, len(y), batch):
        logits = model(x[i : i + batch])
        loss += F.cross_entropy(logits, y[i : i + batch], reduction="sum").item()
        correct += int((logits.argmax(-1) == y[i : i + batch]).sum())
    model.train()
    return correct / len(y), loss / len(y)


def train_classifier(
    model: nn.Module,
    data: dict,
    epochs: float,
    minutes: float = 0.0,
    batch: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    progress: bool = True,
) -> VisionResult:
    """AdamW + warmup/cosine over `epochs` (stopping early at `minutes`), then test accuracy."""
    x, y = data["train"]
    steps_per_epoch = math.ceil(len(y) / batch)
    total = max(1, int(epochs * steps_per_epoch))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    g = torch.Generator().manual_seed(seed)
    warmup = max(1, total // 20)
    start, step, order = time.perf_counter(), 0, torch.empty(0, dtype=torch.long)
    bar = None
    if progress:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            TextColumn("step {task.completed}/{task.total}"),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[ips]} img/s"),
            TimeRemainingColumn(),
        )
        task = bar.add_task("train", total=total, loss="-", ips="-")
        bar.start()
    model.train()
    try:
        while step < total:
            if step % steps_per_epoch == 0:
                order = torch.randperm(len(y), generator=g)
            idx = order[(step % steps_per_epoch) * batch : (step % steps_per_epoch + 1) * batch]
            lr_now = (
                lr * (step + 1) / warmup
                if step < warmup
                else lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))
            )
            for group in opt.param_groups:
                group["lr"] = lr_now
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            elapsed = time.perf_counter() - start
            if bar is not None:
                bar.update(task, completed=step, loss=f"{loss.item():.3f}", ips=f"{step * batch / elapsed:,.0f}")
            if minutes and elapsed > minutes * 60:
                break
    finally:
        if bar is not None:
            bar.stop()
    seconds = time.perf_counter() - start
    acc, test_loss = evaluate(model, *data["test"])
    return VisionResult(
        type(model).__name__,
        sum(p.numel() for p in model.parameters()),
        round(step / steps_per_epoch, 3),
        step,
        round(seconds, 1),
        acc,
        test_loss,
    )
