"""Associative recall (vocabulary 30) for each sequence mixer: softmax attention, Hyena (order 2) and causal
linear attention, in the same two-layer decoder with the same data, optimiser and step budget (recall.py).

Scaled down from the Hyena paper (lengths 1K to 131K, trained far longer) and from the issue's 1K-8K: the full
setting trains at 64 and 128 tokens for 800 steps, because the shipped runs share a 2-core machine loaded by
eight jobs (a 1K-token run of this model costs about 15x a 64-token one per step); the result states what it
reaches there and, where a target is missed, by how much.

One head of width 64 and lr 3e-3: with four heads of width 16 at lr 1e-2 (the first shipped setting) attention,
like linear attention, stayed on the plateau that predicts some value already seen (loss ~2, accuracy near
chance) for 1,500 steps at 32 and 64 tokens; with one head at lr 3e-3 it leaves the plateau within a few
hundred steps at 32-128 tokens (four heads at 1e-3 or 3e-3, or one head at 1e-2, did not within 600)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from .base import Clock, finish, prepare, pyplot, save_figure, state_miss
from .recall import Task, train

NAME = "recall-associative"
CLAIM = (
    "On associative recall with a vocabulary of 30 (key-value pairs, then a query key), a two-layer decoder whose "
    "mixer is softmax attention and one whose mixer is Hyena (order 2) both reach >= 0.99 accuracy at every "
    "trained length; causal linear attention, same budget, is reported beside them."
)
CONTROL = (
    "The attention model with every mixer's output zeroed (no token can read another): it can only guess a value, "
    "so it stays near chance (1/14) instead of recalling."
)
TARGET = 0.99
CONTROL_CEILING = 0.2
TINY_SHOWS_CLAIM_NOT = "a few dozen steps at 16 tokens do not learn recall; the tiny run checks the plumbing"


@dataclass
class Config:
    setting: str = "full"
    vocab: int = 30
    lengths: tuple = (64, 128)
    mixers: tuple = ("attention", "hyena", "linear")
    d_model: int = 64
    layers: int = 2
    heads: int = 1  # see the module's docstring: four narrow heads did not leave the plateau
    steps: int = 800
    batch: int = 32
    lr: float = 3e-3
    eval_n: int = 500
    seed: int = 0

    @classmethod
    def tiny(cls) -> Config:
        return cls(setting="tiny", lengths=(16,), d_model=32, steps=20, batch=16, eval_n=64)


def _figure(cfg: Config, runs: dict, out) -> str:
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4), dpi=100)
    width = 0.8 / (len(cfg.mixers) + 1)
    names = [*cfg.mixers, "control"]
    for i, name in enumerate(names):
        xs = [j + i * width for j in range(len(cfg.lengths))]
        a.bar(xs, [runs[name][str(n)]["accuracy"] for n in cfg.lengths], width, label=name)
    a.axhline(TARGET, color="grey", ls=":", lw=1)
    a.set_xticks([j + width * (len(names) - 1) / 2 for j in range(len(cfg.lengths))], [str(n) for n in cfg.lengths])
    a.set(xlabel="sequence length (tokens)", ylabel="held-out accuracy", ylim=(0, 1.05), title="associative recall")
    a.legend(fontsize=8)
    n = str(cfg.lengths[-1])
    for name in names:
        losses = runs[name][n]["losses"]
        b.plot([k * max(1, cfg.steps // 100) for k in range(len(losses))], losses, label=name)
    b.set(xlabel="step", ylabel="training loss (nats)", title=f"training at {n} tokens")
    b.grid(alpha=0.3)
    b.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out, "recall-associative.png")


def run(cfg: Config, out) -> dict:
    from ..files import write_json

    out = prepare(out)
    clock = Clock()
    runs: dict = {}
    common = dict(d_model=cfg.d_model, layers=cfg.layers, heads=cfg.heads, steps=cfg.steps, batch=cfg.batch)
    for n in cfg.lengths:
        task = Task(cfg.vocab, n)
        for name in (*cfg.mixers, "control"):
            mixer = "attention" if name == "control" else name
            r = train(mixer, task, lr=cfg.lr, seed=cfg.seed, eval_n=cfg.eval_n, control=name == "control", **common)
            runs.setdefault(name, {})[str(n)] = r
    write_json(out / "runs.json", runs)
    figure = _figure(cfg, runs, out)
    metrics = {f"{m}_accuracy_{n}": runs[m][str(n)]["accuracy"] for m in (*cfg.mixers, "control") for n in cfg.lengths}
    metrics |= {f"{m}_cpu_seconds": sum(r["cpu_seconds"] for r in runs[m].values()) for m in runs}
    metrics["chance"] = 1 / ((cfg.vocab - 1) // 2)
    claimed = [m for m in ("attention", "hyena") if m in cfg.mixers]
    worst = {m: min(runs[m][str(n)]["accuracy"] for n in cfg.lengths) for m in claimed}
    holds = all(w >= TARGET for w in worst.values())
    fails = max(runs["control"][str(n)]["accuracy"] for n in cfg.lengths) <= CONTROL_CEILING
    results = finish(
        out,
        sys.modules[__name__],
        cfg,
        clock,
        criterion=(
            f"attention and Hyena: accuracy >= {TARGET} at lengths {list(cfg.lengths)} (scaled from 1K-8K); "
            f"control: <= {CONTROL_CEILING}"
        ),
        metrics=metrics,
        claim_holds=holds,
        control_fails=fails,
        figures=[figure],
    )
    short = [f"{m} {w:.3f}" for m, w in worst.items() if w < TARGET]
    missed = (
        f"worst accuracy over the lengths {', '.join(short)} < {TARGET} after {cfg.steps} steps of {cfg.batch} "
        "sequences (the budget of a shared CPU; the papers train for many thousands of steps)"
        if short
        else ""
    )
    return state_miss(out, results, missed)
