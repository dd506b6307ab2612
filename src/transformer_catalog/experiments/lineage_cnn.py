"""CNN row of the lineage: LeNet-style weight sharing against a dense network on Fashion-MNIST, with a
pixel-permutation control (lineage/cnn.py explains the idea)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from .base import Clock, finish, prepare, pyplot, save_figure

NAME = "lineage-cnn"
LINEAGE = "CNN"
MARGIN = 0.02  # the CNN must lead by at least 2 accuracy points ...
PARAM_RATIO = 0.2  # ... with at most a fifth of the dense network's parameters
CLAIM = (
    "Weight sharing (LeCun et al. 1998): a LeNet-style CNN classifies Fashion-MNIST's test images at least "
    "2 points better than a dense network (MLP) with at most a fifth of its parameters."
)
CONTROL = (
    "The same CNN and training on images whose pixels are shuffled by one fixed permutation: local filters "
    "lose their neighbourhoods while the MLP's task is unchanged, so the CNN's 2-point lead must vanish."
)


@dataclass
class Config:
    setting: str = "full"
    n_train: int = 60000
    n_test: int = 10000
    epochs: int = 6
    batch: int = 128
    lr: float = 2e-3
    conv1: int = 10
    conv2: int = 24
    hidden: int = 100  # the CNN's dense layer
    mlp_hidden: int = 800  # each of the MLP's two hidden layers
    seed: int = 0

    @classmethod
    def tiny(cls) -> Config:
        return cls(setting="tiny", n_train=6000, n_test=2000, epochs=3, batch=32)


def run(cfg: Config, out) -> dict:
    import torch

    from ..data.images import load_images
    from ..lineage.cnn import MLP, LeNet, accuracy, fit, n_params, permute_pixels

    out = prepare(out)
    clock = Clock()
    data = load_images("fashion-mnist")
    x, y = data["train"][0][: cfg.n_train], data["train"][1][: cfg.n_train]
    tx, ty = data["test"][0][: cfg.n_test], data["test"][1][: cfg.n_test]
    results, curves = {}, {}
    for name, make, permuted in (
        ("cnn", lambda: LeNet(cfg.conv1, cfg.conv2, cfg.hidden), False),
        ("mlp", lambda: MLP(cfg.mlp_hidden), False),
        ("cnn_permuted", lambda: LeNet(cfg.conv1, cfg.conv2, cfg.hidden), True),
    ):
        torch.manual_seed(cfg.seed)  # the CNN and its control start from the same weights
        model = make()
        train_x, test_x = (permute_pixels(x, cfg.seed), permute_pixels(tx, cfg.seed)) if permuted else (x, tx)
        curves[name] = fit(model, train_x, y, cfg.epochs, cfg.batch, cfg.lr, cfg.seed)
        results[name] = (accuracy(model, test_x, ty), n_params(model))
    (cnn, cnn_p), (mlp, mlp_p), (ctl, _) = results["cnn"], results["mlp"], results["cnn_permuted"]
    ratio = cnn_p / mlp_p

    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), dpi=100)
    colors = {"cnn": "#4e79a7", "mlp": "#f28e2b", "cnn_permuted": "#e15759"}
    labels = {
        "cnn": f"CNN ({cnn_p:,} params)",
        "mlp": f"MLP ({mlp_p:,} params)",
        "cnn_permuted": "CNN, pixels permuted",
    }
    for name, curve in curves.items():
        left.plot(range(1, len(curve) + 1), curve, marker="o", color=colors[name], label=labels[name])
    left.set_xlabel("epoch")
    left.set_ylabel("training loss")
    left.legend()
    left.grid(alpha=0.3)
    names = list(results)
    right.bar(range(3), [results[n][0] for n in names], color=[colors[n] for n in names])
    right.set_xticks(range(3), ["CNN", "MLP", "CNN permuted"])
    right.set_ylim(min(r[0] for r in results.values()) - 0.05, 1)
    for i, n in enumerate(names):
        right.text(i, results[n][0] + 0.005, f"{results[n][0]:.1%}", ha="center")
    right.set_ylabel(f"test accuracy ({len(ty):,} images)")
    fig.suptitle("Fashion-MNIST: shared filters vs dense weights")
    fig.tight_layout()
    figure = save_figure(fig, out, "lineage-cnn.png")
    return finish(
        out,
        sys.modules[__name__],
        cfg,
        clock,
        criterion="CNN accuracy >= MLP + 0.02 with CNN params <= 0.2 x MLP params; the permuted-pixel CNN "
        "below MLP + 0.02",
        metrics={
            "cnn_accuracy": cnn,
            "mlp_accuracy": mlp,
            "cnn_permuted_accuracy": ctl,
            "cnn_lead_points": round(100 * (cnn - mlp), 2),
            "cnn_params": cnn_p,
            "mlp_params": mlp_p,
            "param_ratio": ratio,
            "train_images": len(y),
            "test_images": len(ty),
        },
        claim_holds=cnn >= mlp + MARGIN and ratio <= PARAM_RATIO,
        control_fails=ctl < mlp + MARGIN,
        figures=[figure],
    )
