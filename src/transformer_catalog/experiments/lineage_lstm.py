"""The LSTM (Hochreiter & Schmidhuber 1997) bridges long time lags where a plain RNN fails: the adding
problem at T = 100 and T = 200, LSTM against a tanh RNN of the same width, same training."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from .base import Clock, finish, prepare, pyplot, save_figure

NAME = "lineage-lstm"
LINEAGE = "LSTM"
CLAIM = (
    "An LSTM learns the adding problem (sum the two marked numbers of a sequence, read at its end) at "
    "T = 100 and T = 200 steps: test MSE below 0.01, against 0.167 for predicting the mean."
)
CONTROL = (
    "A tanh RNN of the same width trained the same way: the error from the end cannot reach the marked "
    "steps through the vanishing gradient, so its test MSE stays near the variance baseline (above 0.1)."
)


@dataclass
class Config:
    setting: str = "full"
    # lists, not tuples: results.json stores the config, and JSON has no tuples
    lengths: list[int] = field(default_factory=lambda: [100, 200])
    steps: list[int] = field(default_factory=lambda: [2000, 3000])  # training batches per length
    hidden: int = 32
    batch: int = 32
    lr: float = 1e-2
    eval_n: int = 1000
    seed: int = 0

    @classmethod
    def tiny(cls) -> Config:
        return cls(setting="tiny", lengths=[20], steps=[400], hidden=16, eval_n=200)


def run(cfg: Config, out) -> dict:
    from ..lineage.lstm import BASELINE_MSE, train_adding

    out = prepare(out)
    clock = Clock()
    runs = {}
    for length, steps in zip(cfg.lengths, cfg.steps):
        for cell in ("lstm", "tanh"):
            _, curve, mse = train_adding(
                cell, length, steps, cfg.seed, cfg.hidden, cfg.batch, cfg.lr, eval_n=cfg.eval_n
            )
            runs[cell, length] = (curve, mse)

    plt = pyplot()
    fig, axes = plt.subplots(1, len(cfg.lengths), figsize=(5 * len(cfg.lengths), 3.6), dpi=100, squeeze=False)
    for ax, length in zip(axes[0], cfg.lengths):
        for cell, colour in (("lstm", "#4e79a7"), ("tanh", "#e15759")):
            curve, mse = runs[cell, length]
            window = 50  # a running mean: single batches are noisy
            xs = [s for s, _ in curve][window - 1 :]
            ys = [sum(v for _, v in curve[i - window + 1 : i + 1]) / window for i in range(window - 1, len(curve))]
            ax.plot(xs, ys, color=colour, label=f"{'LSTM' if cell == 'lstm' else 'tanh RNN'}: test MSE {mse:.4f}")
        ax.axhline(BASELINE_MSE, ls=":", color="gray", label="predict the mean (0.167)")
        ax.set_yscale("log")
        ax.set_xlabel("training batch")
        ax.set_ylabel("MSE (running mean of 50 batches)")
        ax.set_title(f"adding problem, T = {length}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    figure = save_figure(fig, out, "lineage-lstm.png")
    metrics = {}
    for length in cfg.lengths:
        metrics[f"lstm_mse_T{length}"] = runs["lstm", length][1]
        metrics[f"tanh_rnn_mse_T{length}"] = runs["tanh", length][1]
    metrics["baseline_mse"] = BASELINE_MSE
    return finish(
        out,
        sys.modules[__name__],
        cfg,
        clock,
        criterion="LSTM test MSE below 0.01 at every length; tanh RNN above 0.1 at every length",
        metrics=metrics,
        claim_holds=all(runs["lstm", n][1] < 0.01 for n in cfg.lengths),
        control_fails=all(runs["tanh", n][1] > 0.1 for n in cfg.lengths),
        figures=[figure],
    )
