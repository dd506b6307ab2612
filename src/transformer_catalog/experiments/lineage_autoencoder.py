"""Autoencoder row of the lineage: a deep autoencoder with a 30-unit code against PCA-30 on Fashion-MNIST,
with a linear autoencoder of the same shape as the control (lineage/autoencoder.py)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from .base import Clock, finish, prepare, pyplot, save_figure

NAME = "lineage-autoencoder"
LINEAGE = "Autoencoder"
RATIO = 0.8
CLAIM = (
    "A deep autoencoder beats PCA at the same code size (Hinton & Salakhutdinov 2006): with a 30-unit code, "
    "its mean squared reconstruction error on Fashion-MNIST's test images is at most 0.8 x PCA-30's."
)
CONTROL = (
    "The same network and training with every nonlinearity removed: a linear autoencoder can at best match "
    "PCA (Baldi & Hornik 1989), so its error must stay above 0.8 x PCA-30's; the gain is the nonlinearity's."
)


@dataclass
class Config:
    setting: str = "full"
    n_train: int = 60000
    n_test: int = 10000
    code: int = 30
    hidden: list = field(default_factory=lambda: [512, 256])  # encoder 784-512-256-30, decoder mirrored
    epochs: int = 6
    batch: int = 32
    lr: float = 1e-3
    seed: int = 0

    @classmethod
    def tiny(cls) -> Config:
        # a code of 8 (against PCA-8): a small code is where a nonlinear map gains most, and soonest
        return cls(setting="tiny", n_train=10000, n_test=2000, code=8, hidden=[256], epochs=3, lr=2e-3)


def run(cfg: Config, out) -> dict:
    import torch

    from ..data.images import load_images
    from ..lineage.autoencoder import PCA, Autoencoder, fit, mse

    out = prepare(out)
    clock = Clock()
    data = load_images("fashion-mnist")
    x, tx = data["train"][0][: cfg.n_train], data["test"][0][: cfg.n_test]
    sizes = (28 * 28, *cfg.hidden, cfg.code)
    pca = PCA(x, cfg.code)
    models, curves = {}, {}
    for name, linear in (("deep", False), ("linear", True)):
        torch.manual_seed(cfg.seed)
        models[name] = Autoencoder(sizes, linear=linear)
        curves[name] = fit(models[name], x, cfg.epochs, cfg.batch, cfg.lr, cfg.seed)
        models[name].eval()
    deep, lin, base = mse(models["deep"], tx), mse(models["linear"], tx), mse(pca, tx)

    plt = pyplot()
    fig, axes = plt.subplots(4, 10, figsize=(10, 4.6), dpi=100)
    show = tx[torch.tensor([0, 1, 2, 3, 4, 8, 11, 17, 18, 19])]  # test images of varied classes
    with torch.no_grad():
        rows = [
            ("test image", show),
            (f"deep AE ({deep:.4f})", models["deep"](show)),
            (f"PCA-{cfg.code} ({base:.4f})", pca.reconstruct(show)),
            (f"linear AE ({lin:.4f})", models["linear"](show)),
        ]
    for r, (label, images) in enumerate(rows):
        for c in range(10):
            axes[r, c].imshow(images[c, 0].clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(f"Fashion-MNIST reconstructions from {cfg.code} numbers (test MSE per pixel)")
    fig.tight_layout()
    figure = save_figure(fig, out, "lineage-autoencoder.png")
    return finish(
        out,
        sys.modules[__name__],
        cfg,
        clock,
        criterion=f"deep autoencoder test MSE <= {RATIO} x PCA-{cfg.code}'s; the linear autoencoder's above it",
        metrics={
            "deep_autoencoder_mse": deep,
            "pca_mse": base,
            "linear_autoencoder_mse": lin,
            "ratio_to_pca": deep / base,
            "linear_ratio_to_pca": lin / base,
            "pca_variance_explained": pca.explained,
            "final_train_loss": curves["deep"][-1],
            "train_images": len(x),
            "test_images": len(tx),
        },
        claim_holds=deep <= RATIO * base,
        control_fails=lin > RATIO * base,
        figures=[figure],
    )
