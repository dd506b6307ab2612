"""Attention can copy: the Annotated Transformer's first check that a model trains, as a claim with
a control. An encoder-decoder learns to output its input exactly; the same model trained with the
source hidden cannot, which rules out an answer that leaks through the decoder's own input."""

from __future__ import annotations

import dataclasses
import math
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .base import Clock, finish, prepare, pyplot, save_figure

NAME = "copy"
CLAIM = (
    "An encoder-decoder transformer learns to copy: greedy decoding reproduces held-out random "
    "symbol sequences exactly."
)
CONTROL = (
    "The same model and training with every source symbol replaced by one symbol: without the "
    "source it can only guess, so exact match stays near chance (n_symbols^-length)."
)


@dataclass
class Config:
    setting: str = "full"  # tests/test_copy_task.py's setting: 200/200 exact match in 800 steps
    n_symbols: int = 10
    length: int = 10
    n_train: int = 20000
    n_test: int = 200
    layers: int = 2
    d_model: int = 64
    heads: int = 4
    steps: int = 800
    max_tokens: int = 640
    warmup: int = 100
    seed: int = 0

    @classmethod
    def tiny(cls) -> Config:
        return cls(setting="tiny", n_symbols=8, length=6, n_train=5000, layers=1, d_model=32, steps=300, max_tokens=320)


def _train(task, cfg: Config, folder: Path):
    import torch

    from ..families import get_config
    from ..nn import build_model
    from ..train.trainer import TrainConfig, Trainer

    torch.manual_seed(cfg.seed)  # claim and control start from the same weights
    model = build_model(
        get_config(
            "transformer-tiny",
            N=cfg.layers,
            d_model=cfg.d_model,
            d_ff=2 * cfg.d_model,
            h=cfg.heads,
            dropout=0.0,
            vocab_size=task.vocab_size,
            max_len=cfg.length + 2,
        )
    )
    train = TrainConfig(
        steps=cfg.steps,
        max_tokens=cfg.max_tokens,
        warmup=cfg.warmup,
        label_smoothing=0.0,
        eval_every=0,
        save_every=0,
        seed=cfg.seed,
    )
    trainer = Trainer(model, task, train, folder, progress=False)
    trainer.fit()
    return model.eval(), [(r["step"], r["loss"]) for r in trainer.history if "loss" in r]


def _exact_match(model, sources: list[list[int]], targets: list[list[int]], length: int) -> tuple[float, float]:
    """(exact-match rate, per-symbol accuracy) of greedy decoding."""
    import torch

    from ..data.synthetic import COPY_BOS, COPY_EOS
    from ..generate import generate

    src = torch.tensor([s + [COPY_EOS] for s in sources])
    with torch.no_grad():
        out = generate(model, torch.full((len(sources), 1), COPY_BOS), length + 1, src=src, eos_id=COPY_EOS)
    exact = sum(out[i, :length].tolist() == t and out[i, length].item() == COPY_EOS for i, t in enumerate(targets))
    symbols = sum(a == b for i, t in enumerate(targets) for a, b in zip(out[i, :length].tolist(), t))
    return exact / len(targets), symbols / (len(targets) * length)


def run(cfg: Config, out) -> dict:
    from ..data.synthetic import COPY_EOS, COPY_PAD, copy_examples
    from ..train.tasks import make_copy_task
    from .controls import HideInput

    out = prepare(out)
    clock = Clock()
    task = make_copy_task(cfg.n_symbols, cfg.length, cfg.n_train, cfg.seed)
    seen = {tuple(s) for s, _ in task.train}
    held_out = [
        ex
        for ex in copy_examples(cfg.n_test * 2, cfg.n_symbols, cfg.length, cfg.seed + 12345)
        if tuple(ex[0]) not in seen
    ][: cfg.n_test]  # never trained on
    hidden = COPY_EOS + 1  # the first symbol stands in for every source symbol
    control = dataclasses.replace(task, objective=HideInput(task.objective, "src", hidden, COPY_PAD))
    with tempfile.TemporaryDirectory() as tmp:
        model, claim_curve = _train(task, cfg, Path(tmp) / "claim")
        blind, control_curve = _train(control, cfg, Path(tmp) / "control")
    targets = [t for _, t in held_out]
    exact, symbols = _exact_match(model, [s for s, _ in held_out], targets, cfg.length)
    c_exact, c_symbols = _exact_match(blind, [[hidden] * cfg.length for _ in held_out], targets, cfg.length)

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(*zip(*claim_curve), label=f"source visible: exact match {exact:.0%}", color="#4e79a7")
    ax.plot(*zip(*control_curve), label=f"source hidden (control): {c_exact:.0%}", color="#e15759")
    ax.axhline(math.log(cfg.n_symbols), ls=":", color="gray", label="uniform guess over symbols")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (nats per token)")
    ax.set_title(f"copy {cfg.length} of {cfg.n_symbols} symbols")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    figure = save_figure(fig, out, "copy.png")
    return finish(
        out,
        sys.modules[__name__],
        cfg,
        clock,
        criterion="exact match at least 0.95 with the source, at most 0.05 with the source hidden",
        metrics={
            "exact_match": exact,
            "symbol_accuracy": symbols,
            "control_exact_match": c_exact,
            "control_symbol_accuracy": c_symbols,
            "chance_exact_match": cfg.n_symbols**-cfg.length,
            "chance_symbol_accuracy": 1 / cfg.n_symbols,
            "held_out_sequences": len(held_out),
        },
        claim_holds=exact >= 0.95,
        control_fails=c_exact <= 0.05,
        figures=[figure],
    )
