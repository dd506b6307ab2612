"""Scaling laws measured here: a grid of small GPTs (decoders from the core) trained on one corpus
with one tokenizer at several compute budgets C = 6 N D, fitted as Hoffmann et al. 2022 do (IsoFLOP
parabolas, N_opt and D_opt against C, the parametric law with bootstrap intervals; scaling_fit.py),
and the catalog's models placed against the law (scaling_plots.py).

The grid is costed before it starts: each size's step is timed on real batches and the whole grid's
CPU time estimated; a grid over `max_cpu_minutes`, a run with too few steps or more epochs of the
corpus than `max_epochs` is refused in one line. Every finished run is saved at once as its own JSON
file in the output folder, and a rerun into that folder skips the runs already there."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import TcatError
from .base import Clock, finish, prepare

NAME = "scaling-laws"
CLAIM = (
    "Held-out loss of GPTs trained here falls as a power law in parameters N and tokens D "
    "(L = E + A/N^alpha + B/D^beta with alpha > 0 and beta > 0, 95% bootstrap intervals above 0), and at "
    "fixed compute the loss-optimal size grows with the budget (IsoFLOP exponent a > 0, interval above 0)."
)
CONTROL = (
    "The same law fitted to the same losses assigned to the (N, D) runs at random: if the fit's quality "
    "came from its five free parameters rather than from the runs, shuffled losses would fit as well; the "
    "real fit must explain more of log loss's variance than 95% of 100 shuffles."
)
# Six runs of a few hundred steps cannot pin a power law: the tiny setting checks the machinery (tests/
# test_scaling_laws.py checks the fits on synthetic losses); only the full grid's verdict counts.
TINY_SHOWS_CLAIM_NOT = "six tiny runs cannot pin the fitted exponents' intervals above zero"


@dataclass
class Config:
    setting: str = "full"
    data: str = "kjv"  # the King James Bible (about 1.3M tokens at this vocabulary), one BPE tokenizer
    vocab: int = 1024
    max_len: int = 64
    max_tokens: int = 512  # per step: 8 sequences of 64 (small budgets need steps more than big batches)
    # (layers, d_model): 12 L d^2 non-embedding parameters, from 3K to 1.2M
    sizes: tuple = ((1, 16), (1, 32), (1, 64), (2, 64), (2, 96), (3, 128), (4, 160))
    # (C in FLOPs, indices into sizes): each IsoFLOP curve spans sizes on both sides of its optimum
    grid: tuple = (
        (3e10, (0, 1, 2, 3, 4)),
        (1e11, (0, 1, 2, 3, 4)),
        (3e11, (1, 2, 3, 4, 5)),
        (1e12, (2, 3, 4, 5, 6)),
    )
    head_dim: int = 32
    lr: float = 3e-3
    seed: int = 0
    min_steps: int = 50  # a budget giving a size fewer steps is too small for it
    max_epochs: float = 4.0  # repeated data up to ~4 epochs is nearly as good as new (Muennighoff et al. 2023)
    max_cpu_minutes: float = 40.0
    bootstrap: int = 200
    shuffles: int = 100
    fit_points: int = 3  # initialisations per parameter of the law's fit (3: 243 starts; 2: 32)

    @classmethod
    def tiny(cls) -> Config:
        return cls(
            setting="tiny",
            data="bible-sample",
            vocab=300,
            max_len=32,
            max_tokens=256,
            sizes=((1, 16), (1, 32), (2, 32)),
            grid=((1e9, (0, 1, 2)), (3e9, (0, 1, 2))),
            head_dim=16,
            lr=3e-3,
            min_steps=10,
            max_epochs=10.0,
            max_cpu_minutes=5.0,
            bootstrap=10,
            shuffles=10,
            fit_points=2,
        )


def size_name(layers: int, d_model: int) -> str:
    return f"L{layers}-d{d_model}"


def run_file(out: Path, budget: float, size: str) -> Path:
    return out / f"run-{budget:.0e}-{size}.json".replace("+", "")


def build(cfg: Config, task, layers: int, d_model: int):
    """A pre-norm GPT of the core: the tiny Transformer's decoder, widened (ModelConfig, as lm_context)."""
    from ..families import get_config
    from ..nn import ModelConfig, build_model

    base = get_config(
        "transformer-tiny",
        N=layers,
        d_model=d_model,
        d_ff=4 * d_model,
        h=max(1, d_model // cfg.head_dim),
        vocab_size=task.vocab_size,
        max_len=cfg.max_len,
    ).to_dict()
    base["norm"] = {**base["norm"], "placement": "pre", "final": True}  # stable at lr 2e-3 without tuning
    decoder = ModelConfig.from_dict({**base, "arch": "decoder", "n_encoder_layers": 0, "dropout": 0.0})
    return task.objective.wrap(build_model(decoder))


def non_embedding(model) -> int:
    """Parameters outside embedding tables (Kaplan's and Hoffmann's N; the output head is tied)."""
    import torch

    emb = {id(p) for m in model.modules() if isinstance(m, torch.nn.Embedding) for p in m.parameters()}
    return sum(p.numel() for p in model.parameters() if id(p) not in emb)


def _train_config(cfg: Config, steps: int):
    from ..train.trainer import TrainConfig

    return TrainConfig(
        steps=steps,
        max_tokens=cfg.max_tokens,
        optimizer="adamw",
        schedule="cosine",  # decayed over exactly this run's steps: the paper's correction to Kaplan et al.
        lr=cfg.lr,
        warmup=max(1, steps // 10),
        clip=1.0,
        label_smoothing=0.0,
        eval_every=0,
        save_every=0,
        seed=cfg.seed,
    )


def tokens_per_step(task, cfg: Config) -> tuple[float, int]:
    """(mean tokens the trainer counts per step, over the first epoch's first batches; batches per epoch)."""
    batches = task.batches(task.train, cfg.max_tokens, cfg.seed, 0)
    sample = batches[: min(len(batches), 40)]
    counted = [task.count_tokens(task.collate([task.train[i] for i in idx])) for idx in sample]
    return sum(counted) / len(counted), len(batches)


def plan(cfg: Config, task) -> list[dict]:
    """The grid's runs with their steps; refuses a budget too small or a corpus too short for a run."""
    per_step, n_batches = tokens_per_step(task, cfg)
    corpus = per_step * n_batches
    n_of = {}
    runs = []
    for budget, indices in cfg.grid:
        for i in indices:
            if not 0 <= i < len(cfg.sizes):
                raise TcatError(
                    f"scaling grid: size index {i} for budget {budget:.1e} is not in sizes (0..{len(cfg.sizes) - 1})"
                )
            layers, d_model = cfg.sizes[i]
            name = size_name(layers, d_model)
            if name not in n_of:
                n_of[name] = non_embedding(build(cfg, task, layers, d_model))
            n = n_of[name]
            tokens = budget / (6 * n)
            steps = round(tokens / per_step)
            if steps < cfg.min_steps:
                raise TcatError(
                    f"scaling grid: budget C={budget:.1e} is too small for size {name} ({n} parameters): "
                    f"{steps} steps of {per_step:.0f} tokens, fewer than min_steps={cfg.min_steps}"
                )
            if tokens > cfg.max_epochs * corpus:
                raise TcatError(
                    f"scaling grid: corpus {cfg.data} has {corpus:.0f} training tokens; C={budget:.1e} at size {name} "
                    f"needs {tokens:.0f} ({tokens / corpus:.1f} epochs, over max_epochs={cfg.max_epochs:g})"
                )
            runs.append({"budget": budget, "size": name, "layers": layers, "d_model": d_model, "n": n, "steps": steps})
    return runs


def step_seconds(cfg: Config, task, layers: int, d_model: int, steps: int = 3) -> float:
    """CPU seconds of one training step of this size on real batches (after one untimed step)."""
    import torch

    model = build(cfg, task, layers, d_model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batches = task.batches(task.train, cfg.max_tokens, cfg.seed, 0)
    start = 0.0
    for k in range(steps + 1):
        if k == 1:
            start = time.process_time()
        loss, _ = task.loss(model, task.collate([task.train[i] for i in batches[k % len(batches)]]))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return (time.process_time() - start) / steps


def estimate(cfg: Config, task, runs: list[dict], cost: dict | None = None) -> float:
    """CPU seconds the runs will take: training steps at each size's measured cost, plus evaluation
    of the held-out split (a forward pass: about a third of a step per batch). `cost`: step costs
    measured before, by size (filled in)."""
    cost = {} if cost is None else cost
    held_out_steps = len(task.batches(task.valid, cfg.max_tokens, 0, 0))
    total = 0.0
    for r in runs:
        if r["size"] not in cost:
            cost[r["size"]] = step_seconds(cfg, task, r["layers"], r["d_model"])
        total += cost[r["size"]] * (r["steps"] + held_out_steps / 3)
    return total


def spec(cfg: Config, r: dict) -> dict:
    """What decides a run's result: a saved run is reused only when all of it matches."""
    keys = ("data", "vocab", "max_len", "max_tokens", "head_dim", "lr", "seed")
    return {**{k: getattr(cfg, k) for k in keys}, "budget": r["budget"], "size": r["size"], "steps": r["steps"]}


def load_run(path: Path, want: dict) -> dict | None:
    """A finished run saved in `path`, or None; a run of another setting there is refused."""
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TcatError(f"{path}: not a readable run ({str(e).splitlines()[0][:100]}); delete it to rerun") from None
    if not isinstance(saved, dict) or saved.get("spec") != want:
        raise TcatError(f"{path}: a run of another setting; use a new output folder (or delete the file)")
    return saved


def train_run(cfg: Config, task, r: dict) -> dict:
    import torch

    from ..train.trainer import Trainer, held_out_loss

    clock = Clock()
    torch.manual_seed(cfg.seed)
    model = build(cfg, task, r["layers"], r["d_model"])
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(model, task, _train_config(cfg, r["steps"]), Path(tmp), progress=False)
        state = trainer.fit()
    losses = [h["loss"] for h in trainer.history if "loss" in h]
    loss = held_out_loss(model, task, cfg.max_tokens)
    cpu, wall = clock.read()
    return {
        **r,
        "d": state["tokens"],
        "flops": 6 * r["n"] * state["tokens"],
        "loss": loss,
        "train_loss": losses[-1] if losses else None,
        "params_total": sum(p.numel() for p in model.parameters()),
        "cpu_seconds": cpu,
        "wall_seconds": wall,
    }


def _within_budget(cfg: Config, est: float, n_runs: int) -> None:
    if est > cfg.max_cpu_minutes * 60:
        raise TcatError(
            f"scaling grid: {n_runs} runs need about {est / 60:.1f} CPU minutes (measured step costs), over "
            f"max_cpu_minutes={cfg.max_cpu_minutes:g}; drop budgets or sizes, or raise max_cpu_minutes"
        )


def check(cfg: Config) -> None:
    """Refuse an impossible grid before anything is written (tcat experiments run calls this first): a
    budget too small for a size, a corpus too short for a run, or a whole grid over max_cpu_minutes."""
    from ..train.tasks import make_objective_task

    task = make_objective_task("clm", cfg.data, cfg.vocab, cfg.max_len)
    runs = plan(cfg, task)
    _within_budget(cfg, estimate(cfg, task, runs), len(runs))


def run_grid(cfg: Config, out: Path, task, log=None) -> tuple[list[dict], dict]:
    """Train every run not yet saved in `out` (after costing them); returns (runs, bookkeeping)."""
    from ..files import write_json

    runs = plan(cfg, task)
    done, todo = [], []
    for r in runs:
        saved = load_run(run_file(out, r["budget"], r["size"]), spec(cfg, r))
        (done if saved else todo).append(saved or r)
    cost: dict = {}
    est = estimate(cfg, task, todo, cost)
    _within_budget(cfg, est, len(todo))
    for r in todo:
        result = train_run(cfg, task, r) | {"spec": spec(cfg, r)}
        write_json(run_file(out, r["budget"], r["size"]), result)  # at once: a stopped grid resumes here
        done.append(result)
        if log:
            log(f"C={r['budget']:.0e} {r['size']}: loss {result['loss']:.4f} ({result['cpu_seconds']:.0f} CPU s)")
    order = {(r["budget"], r["size"]): i for i, r in enumerate(runs)}
    done.sort(key=lambda r: order[(r["budget"], r["size"])])
    whole = estimate(cfg, task, runs, cost)  # the whole grid's estimate, beside its measured CPU time
    return done, {
        "estimated_cpu_seconds": round(est, 1),
        "grid_estimated_cpu_seconds": round(whole, 1),
        "skipped": len(runs) - len(todo),
        "trained": len(todo),
    }


def analyse(cfg: Config, runs: list[dict]) -> dict:
    from . import scaling_fit as sf

    n, d, loss = ([r[k] for r in runs] for k in ("n", "d", "loss"))
    iso = sf.isoflop(runs)
    law = sf.fit_law(n, d, loss, sf.start_grid(cfg.fit_points))
    boot = sf.bootstrap(runs, cfg.bootstrap, cfg.seed, law) if law else {}
    shuffled = sf.shuffled_r2(runs, cfg.shuffles, cfg.seed)
    same = sf.fit_law(n, d, loss, sf.CONTROL_STARTS)  # the real losses fitted as each shuffle is
    return {
        "isoflop": iso,
        "law": law,
        "bootstrap": boot,
        "shuffled_r2": shuffled,
        "r2_control_starts": same.get("r2_log"),
    }


def _metrics(cfg: Config, fits: dict, runs: list[dict], grid: dict, catalog: dict) -> dict:
    import numpy as np

    from . import scaling_fit as sf

    iso, law, boot = fits["isoflop"], fits["law"], fits["bootstrap"]
    m = {"runs": len(runs), "runs_trained_now": grid["trained"]}
    m["grid_estimated_cpu_seconds"] = grid["grid_estimated_cpu_seconds"]  # from step costs measured in this call
    m["grid_cpu_seconds"] = round(sum(r["cpu_seconds"] for r in runs), 1)  # the runs' own, summed
    for key in ("a", "b"):
        m[f"isoflop_{key}"] = iso.get(key)
        m[f"isoflop_{key}_lo"], m[f"isoflop_{key}_hi"] = boot.get(key) or [None, None]
    for o in iso["optima"]:
        m[f"tokens_per_param_at_{o['budget']:.0e}".replace("+", "")] = o["d_opt"] / o["n_opt"]
    for key in ("alpha", "beta", "E", "A", "B"):
        m[f"law_{key}"] = law.get(key)
        m[f"law_{key}_lo"], m[f"law_{key}_hi"] = boot.get(key) or [None, None]
    m["law_r2_log"] = law.get("r2_log")
    if law:
        opt = sf.law_optimum(law)
        m["law_a"], m["law_b"] = opt["a"], opt["b"]
        m["law_a_lo"], m["law_a_hi"] = boot.get("law_a") or [None, None]
        top = max(c for c, _ in cfg.grid)
        m["law_tokens_per_param_at_top_budget"] = sf.law_tokens_per_param(law, top)
    m["law_r2_log_control_starts"] = fits["r2_control_starts"]
    m["shuffled_r2_p95"] = float(np.percentile(fits["shuffled_r2"], 95))
    m["shuffled_r2_median"] = float(np.median(fits["shuffled_r2"]))
    m["bootstrap_samples"] = cfg.bootstrap
    for k, v in sf.KAPLAN.items():
        m[f"kaplan_{k}"] = v
    for k, v in sf.CHINCHILLA.items():
        m[f"chinchilla_{k}"] = v
    m["catalog_models"] = catalog["count"]
    m["catalog_over_trained"] = "; ".join(f"{p['name']} {p['ratio']:.0f}" for p in catalog["over"])
    m["catalog_under_trained"] = "; ".join(f"{p['name']} {p['ratio']:.2g}" for p in catalog["under"])
    return m


def run(cfg: Config, out) -> dict:
    from ..files import write_json
    from ..train.tasks import make_objective_task
    from . import scaling_plots as plots

    out = prepare(out)
    clock = Clock()
    task = make_objective_task("clm", cfg.data, cfg.vocab, cfg.max_len)
    runs, grid = run_grid(cfg, out, task, log=lambda s: print(s, file=sys.stderr, flush=True))
    fits = analyse(cfg, runs)
    catalog = plots.catalog_points()
    write_json(out / "fits.json", {"runs": runs, **fits, "catalog": catalog, "config": asdict(cfg)})
    figures = [
        plots.isoflop_figure(out, runs, fits["isoflop"]),
        plots.optimal_figure(out, fits["isoflop"], fits["law"]),
        plots.catalog_figure(out, catalog, fits["isoflop"]),
    ]
    m = _metrics(cfg, fits, runs, grid, catalog)
    bounds = [m.get(k) for k in ("law_alpha_lo", "law_beta_lo", "isoflop_a_lo")]
    holds = all(b is not None and b > 0 for b in bounds) and (m.get("isoflop_a") or 0) > 0
    r2 = m.get("law_r2_log_control_starts")
    return finish(
        out,
        sys.modules[__name__],
        cfg,
        clock,
        criterion=(
            "the law's alpha and beta and the IsoFLOP exponent a have 95% bootstrap intervals above 0; the law's "
            "R^2 on log loss (fitted from the control's starts) beats the 95th percentile of fits to shuffled losses"
        ),
        metrics=m,
        claim_holds=holds,
        control_fails=r2 is not None and r2 > m["shuffled_r2_p95"],
        figures=[f for f in figures if f],
    )


__all__ = ["CLAIM", "CONTROL", "NAME", "Config", "TcatError", "estimate", "plan", "run", "run_grid"]
