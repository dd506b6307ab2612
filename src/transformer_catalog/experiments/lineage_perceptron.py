"""The perceptron (Rosenblatt 1958): its learning rule finds a separating line whenever one exists
(iris setosa against the rest), and can never learn XOR (Minsky & Papert 1969)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from .base import Clock, finish, prepare, pyplot, save_figure

NAME = "lineage-perceptron"
LINEAGE = "Perceptron"
CLAIM = (
    "The perceptron rule converges on linearly separable data: on iris setosa against the other two "
    "species it stops making mistakes and classifies all 150 flowers correctly, for every seed."
)
CONTROL = (
    "The same rule on XOR, which no line separates: it never converges and no weights it reaches "
    "classify more than 3 of the 4 points (accuracy at most 0.75) for any seed."
)


@dataclass
class Config:
    setting: str = "full"
    seeds: int = 10
    epochs: int = 200  # passes over the data; iris converges in a few, XOR never does
    lr: float = 1.0

    @classmethod
    def tiny(cls) -> Config:
        return cls(setting="tiny", seeds=3, epochs=40)


def run(cfg: Config, out) -> dict:
    from ..lineage.perceptron import XOR_X, XOR_Y, iris_setosa, train_perceptron

    out = prepare(out)
    clock = Clock()
    x, t = iris_setosa()
    iris = [train_perceptron(x, t, cfg.epochs, seed, cfg.lr) for seed in range(cfg.seeds)]
    xor = [train_perceptron(XOR_X, XOR_Y, cfg.epochs, seed, cfg.lr) for seed in range(cfg.seeds)]
    iris_acc = min(r.accuracy_per_epoch[-1] for r in iris)  # the worst seed's final weights
    xor_best = max(r.best_accuracy for r in xor)  # the best any seed ever reached, at any pass

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for i, r in enumerate(iris):
        ax.plot(range(1, len(r.mistakes_per_epoch) + 1), r.mistakes_per_epoch, color="#4e79a7", alpha=0.6,
                label="iris setosa vs rest (converges)" if i == 0 else None)  # fmt: skip
    for i, r in enumerate(xor):
        ax.plot(range(1, len(r.mistakes_per_epoch) + 1), r.mistakes_per_epoch, color="#e15759", alpha=0.3,
                label="XOR (never converges)" if i == 0 else None)  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("pass over the data")
    ax.set_ylabel("mistakes (weight updates) in the pass")
    ax.set_title(f"perceptron rule, {cfg.seeds} seeds")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    figure = save_figure(fig, out, "lineage-perceptron.png")
    return finish(
        out,
        sys.modules[__name__],
        cfg,
        clock,
        criterion="iris setosa-vs-rest accuracy 1.0 for every seed; XOR never above 0.75 for any seed",
        metrics={
            "iris_accuracy_worst_seed": iris_acc,
            "iris_seeds_converged": sum(r.converged for r in iris),
            "iris_passes_to_converge_max": max(len(r.mistakes_per_epoch) for r in iris),
            "xor_best_accuracy_any_seed_any_pass": xor_best,
            "xor_seeds_converged": sum(r.converged for r in xor),
            "seeds": cfg.seeds,
        },
        claim_holds=iris_acc == 1.0 and all(r.converged for r in iris),
        control_fails=xor_best <= 0.75 and not any(r.converged for r in xor),
        figures=[figure],
    )
