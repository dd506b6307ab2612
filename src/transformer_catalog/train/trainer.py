"""The trainer, for every task and objective: Adam with the paper's warmup / inverse-square-root
schedule or AdamW with warmup + cosine decay, gradient accumulation and clipping, optional bf16 (a
bf16 compute copy with fp32 master weights, train/precision.py), label smoothing, periodic
evaluation, metrics as JSONL plus a loss plot (loss.png), atomic checkpoints and exact resume.

Exact resume: everything that decides the next step is saved — weights, Adam moments, the step
(the learning rate is a pure function of it), the data position (epoch, next batch; the batch
order is a pure function of seed and epoch) and the torch RNG (dropout). A resumed run therefore
produces the same weights, bit for bit, as one that was never stopped.
"""

from __future__ import annotations

import io
import json
import math
import time
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import torch

from .. import files
from ..data.batching import rng_key
from ..errors import TcatError
from ..progress import Bar
from . import distributed
from .checkpoint import load_training_state, read_config, read_weights, save_checkpoint
from .config import TrainConfig  # the fields are also tcat train's flags (train/config.py)


@torch.no_grad()
def held_out_loss(model, task, max_tokens: int) -> float:
    """Mean per-token loss (no smoothing) over task.valid, in fixed batches (the same every call)."""
    if not task.valid:
        return float("nan")
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for n_batch, idx in enumerate(task.batches(task.valid, max_tokens, 0, 0)):
        loss, n = task.loss(model, task.collate([task.valid[i] for i in idx], key=n_batch))
        total += loss.item() * n
        count += n
    model.train(was_training)
    return total / max(count, 1)


def inverse_sqrt_lr(step: int, d_model: int, warmup: int, scale: float = 1.0) -> float:
    """lrate = d_model^-0.5 * min(step^-0.5, step * warmup^-1.5) (paper, equation 3)."""
    step = max(step, 1)
    return scale * d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)


def cosine_lr(step: int, cfg: TrainConfig) -> float:
    """Linear warmup to cfg.lr over cfg.warmup steps, then half a cosine down to cfg.lr * cfg.min_lr."""
    if step <= cfg.warmup:
        return cfg.lr * step / max(cfg.warmup, 1)
    done = min(1.0, (step - cfg.warmup) / max(cfg.steps - cfg.warmup, 1))
    return cfg.lr * (cfg.min_lr + (1 - cfg.min_lr) * 0.5 * (1 + math.cos(math.pi * done)))


def learning_rate(step: int, cfg: TrainConfig, d_model: int) -> float:
    if cfg.schedule == "cosine":
        return cosine_lr(step, cfg)
    if cfg.schedule == "inverse-sqrt":
        return inverse_sqrt_lr(step, d_model, cfg.warmup, cfg.lr_scale)
    raise TcatError(f"unknown schedule {cfg.schedule!r}: use inverse-sqrt or cosine")


def make_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = list(params)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=0.0, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps)
    if cfg.optimizer == "adamw":
        try:  # the fused kernel (one pass over all parameters) exists on CPU from torch 2.4
            return torch.optim.AdamW(
                params, lr=0.0, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, weight_decay=cfg.weight_decay, fused=True
            )
        except (RuntimeError, TypeError):
            return torch.optim.AdamW(
                params, lr=0.0, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, weight_decay=cfg.weight_decay
            )
    raise TcatError(f"unknown optimizer {cfg.optimizer!r}: use adam or adamw")


class Trainer:
    def __init__(
        self,
        model,
        task,
        cfg: TrainConfig,
        out: str | Path,
        progress: bool = True,
        fsdp: bool = False,
        run_meta: dict | None = None,
    ):
        """`task`: a Task (train/tasks.py: an objective over a corpus); `model` is what its loss takes.
        Under torchrun the trainer wraps it in DDP itself, or shards it with FSDP2 (`fsdp`, in place):
        the model code stays single-device. `run_meta`: what the run was told (model name, data,
        process count), saved so that --resume can tell a change from a repetition (train/setup.py)."""
        if cfg.grad_accum < 1:
            raise TcatError(f"grad_accum must be at least 1, got {cfg.grad_accum}")
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.model, self.task, self.cfg = model, task, cfg
        self.run_meta = run_meta
        # bf16 in one process: a bf16 compute copy with fp32 master weights (train/precision.py);
        # under torchrun, bf16 stays autocast (DDP/FSDP reduce and shard the fp32 model itself)
        self.mixed = None
        if cfg.bf16 and self.world == 1:
            from .precision import MasterWeights

            self.mixed = MasterWeights(model)
        compute = model if self.mixed is None else self.mixed.compute
        if cfg.compile:
            from .compile import compile_blocks

            compile_blocks(compute)  # before DDP/FSDP wrap it, as torchtitan does
        self.step_module = distributed.wrap(compute, fsdp)  # what the training forward runs through
        self.out = Path(out)
        self.ckpt = self.out / "checkpoint"
        self.progress = progress and self.rank == 0
        self.optimizer = make_optimizer(model.parameters(), cfg)
        self.state = {"step": 0, "epoch": 0, "batch": 0, "elapsed": 0.0, "tokens": 0}
        self.history: list[dict] = []

    # -- persistence -------------------------------------------------------------------------------
    def _meta(self) -> dict:
        meta = {"task": self.task.meta, "train": asdict(self.cfg)}
        if self.run_meta is not None:
            meta["run"] = self.run_meta
        return meta

    def save(self) -> None:
        weights, optimizer_state = distributed.gather_state(self.model, self.optimizer)  # all ranks take part
        if self.rank == 0:  # one process writes the (gathered) full state
            save_checkpoint(
                self.ckpt,
                self.model,
                self._meta(),
                self.task.tokenizer,
                trainer_state=dict(self.state),
                weights=weights,
                optimizer_state=optimizer_state,
            )
        distributed.barrier()

    def resume(self) -> None:
        """Continue from out/checkpoint. Refuses a checkpoint of another model or task."""
        folder, meta, cfg = read_config(self.ckpt)
        if cfg != self.model.config:
            mine, theirs = self.model.config.to_dict(), cfg.to_dict()
            diff = _first_difference(theirs, mine)
            raise TcatError(
                f"{folder}: checkpoint was trained with another model config ({diff}); "
                "resume with the same --model, or train into a new --out"
            )
        if meta.get("task") != self.task.meta:
            raise TcatError(f"{folder}: checkpoint is for task {meta.get('task')}, not {self.task.meta}")
        weights = read_weights(self.model, folder / "model.safetensors")
        self.state, optimizer_state = load_training_state(folder)
        distributed.load_state(self.model, self.optimizer, weights, optimizer_state)
        if self.mixed is not None:
            self.mixed.refresh()  # the compute copy is a function of the master weights
        self._truncate_metrics(self.state["step"])

    def _truncate_metrics(self, step: int) -> None:
        """Metrics logged after the checkpoint we resume from belong to a lost future: drop them."""
        path = self.out / "metrics.jsonl"
        if path.exists():
            keep = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
            # atomically: a kill mid-rewrite must not lose the metrics up to the checkpoint
            files.write_text(path, "".join(line + "\n" for line in keep))

    def _log(self, record: dict) -> None:
        self.history.append(record)
        if self.rank:
            return
        with (self.out / "metrics.jsonl").open("a") as f:
            f.write(json.dumps(record) + "\n")

    # -- evaluation --------------------------------------------------------------------------------
    def evaluate(self) -> float:
        """Mean token cross-entropy (no smoothing) on the validation split."""
        with self._autocast():
            return held_out_loss(self.model, self.task, self.cfg.max_tokens)

    def _next_micro_batches(self) -> list[tuple[int, list[int]]]:
        """The step's world x grad_accum micro-batches, in one global order every process computes
        alike (epochs roll over inside a step); this process takes its contiguous share."""
        cfg, st = self.cfg, self.state
        step = []
        for _ in range(self.world * cfg.grad_accum):
            if st["batch"] >= len(self._batches):
                st["epoch"] += 1
                st["batch"] = 0
                self._batches = self.task.batches(self.task.train, cfg.max_tokens, cfg.seed, st["epoch"])
            key = rng_key(cfg.seed, st["epoch"], st["batch"])  # seeds the batch's random choices
            step.append((key, self._batches[st["batch"]]))
            st["batch"] += 1
        return step[self.rank * cfg.grad_accum : (self.rank + 1) * cfg.grad_accum]

    def _autocast(self):
        return torch.autocast("cpu", dtype=torch.bfloat16) if self.cfg.bf16 else nullcontext()

    # -- the loop ---------------------------------------------------------------------------------------
    def fit(self) -> dict:
        cfg, st, task = self.cfg, self.state, self.task
        self.out.mkdir(parents=True, exist_ok=True)
        if not task.train:
            raise TcatError("no training examples (every pair is longer than the model's position.max_len?)")
        d_model = self.model.config.d_model
        self.model.train()
        self._batches = task.batches(task.train, cfg.max_tokens, cfg.seed, st["epoch"])
        start_time, start_elapsed = time.perf_counter(), st["elapsed"]
        window_tokens, window_start = 0, time.perf_counter()
        # The time budget is this invocation's: a resumed run gets its --minutes anew.
        bar = _Progress(cfg.steps, st["step"], enabled=self.progress, budget_s=cfg.max_minutes * 60, elapsed_s=0.0)
        with bar:
            while st["step"] < cfg.steps:
                lr = learning_rate(st["step"] + 1, cfg, d_model)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                n_tok, total = 0, 0.0
                mine = self._next_micro_batches()  # this process's share of the step's global batch
                for k, (key, idx) in enumerate(mine):
                    batch = task.collate([task.train[i] for i in idx], key=key)
                    with self._autocast(), distributed.no_sync(self.step_module, last=k == len(mine) - 1):
                        loss, _ = task.loss(self.step_module, batch, cfg.label_smoothing)
                        if not math.isfinite(loss.item()):
                            raise TcatError(
                                f"loss became {loss.item()} at step {st['step'] + 1}; lower the learning rate"
                            )
                        (loss / cfg.grad_accum).backward()
                    if self.mixed is not None:
                        self.mixed.grads_to_master()  # accumulated in fp32
                    total += loss.item() / cfg.grad_accum
                    n_tok += task.count_tokens(batch)
                total = distributed.mean(total)
                n_tok = round(distributed.mean(n_tok) * self.world)  # tokens of the global batch
                if cfg.clip > 0:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip)
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                if self.mixed is not None:
                    self.mixed.refresh()
                st["step"] += 1
                st["tokens"] += n_tok
                window_tokens += n_tok
                st["elapsed"] = start_elapsed + time.perf_counter() - start_time
                tok_s = window_tokens / max(time.perf_counter() - window_start, 1e-9)
                bar.update(st["step"], total, tok_s, st["elapsed"] - start_elapsed)
                if st["step"] % 10 == 0 or st["step"] == cfg.steps:
                    self._log(
                        {
                            "step": st["step"],
                            "loss": round(total, 5),
                            "lr": lr,
                            "tokens_per_s": round(tok_s, 1),
                            "elapsed_s": round(st["elapsed"], 2),
                        }
                    )
                    window_tokens, window_start = 0, time.perf_counter()
                if cfg.eval_every and st["step"] % cfg.eval_every == 0:
                    val = self.evaluate()
                    self._log({"step": st["step"], "valid_loss": round(val, 5)})
                    bar.note(f"step {st['step']}: valid loss {val:.3f}")
                if cfg.save_every and st["step"] % cfg.save_every == 0:
                    self.save()
                spent = st["elapsed"] - start_elapsed
                if cfg.max_minutes and distributed.mean(float(spent >= cfg.max_minutes * 60)) > 0:  # all stop together
                    bar.note(f"time limit of {cfg.max_minutes} min reached at step {st['step']}")
                    break
        self.save()
        if self.rank == 0:
            plot_losses(self.out / "metrics.jsonl", self.out / "loss.png")
        return dict(st)


def plot_losses(metrics: Path, png: Path) -> None:
    """Training loss (smoothed) and validation loss against steps, as a PNG beside metrics.jsonl."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return  # the plot is a convenience; metrics.jsonl has the numbers
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()] if metrics.exists() else []
    train = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    valid = [(r["step"], r["valid_loss"]) for r in rows if "valid_loss" in r]
    if not train:
        return
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    k = max(1, len(train) // 50)
    smooth = [
        sum(v for _, v in train[max(0, i - k + 1) : i + 1]) / len(train[max(0, i - k + 1) : i + 1])
        for i in range(len(train))
    ]
    ax.plot([s for s, _ in train], smooth, label="train (smoothed)", color="#4e79a7")
    if valid:
        ax.plot([s for s, _ in valid], [v for _, v in valid], "o-", label="valid", color="#e15759")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    files.write_bytes(png, buf.getvalue())  # atomic, and refuses a png path that is not a regular file


def _first_difference(a: dict, b: dict, prefix: str = "") -> str:
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            found = _first_difference(x, y, f"{prefix}{key}.")
            if found:
                return found
        elif x != y:
            return f"{prefix}{key}: checkpoint {x!r}, now {y!r}"
    return ""


class _Progress(Bar):
    """Loss, tokens/s and ETA. With a time budget (--minutes) the bar tracks whichever limit comes
    first: steps or time."""

    def __init__(self, total: int, done: int, enabled: bool, budget_s: float = 0.0, elapsed_s: float = 0.0):
        self.total, self.budget = total, budget_s
        columns = ("step {task.fields[step]}", "loss {task.fields[loss]}", "{task.fields[tok_s]} tok/s")
        start = self._fraction(done, elapsed_s)
        super().__init__(enabled, "train", columns, total=1.0, completed=start, step=done, loss="-", tok_s="-")

    def _fraction(self, step: int, elapsed: float) -> float:
        by_steps = step / max(self.total, 1)
        return max(by_steps, elapsed / self.budget) if self.budget else by_steps

    def update(self, step: int, loss: float, tok_s: float, elapsed: float = 0.0) -> None:
        if self.enabled:
            self.show(
                completed=min(self._fraction(step, elapsed), 1.0),
                step=f"{step:,}",
                loss=f"{loss:.3f}",
                tok_s=f"{tok_s:,.0f}",
            )
