"""Class-conditional DiT training on Fashion-MNIST, in pixel space, through the one trainer.

The loss is DDPM's simple objective, || eps - eps_theta(x_t, t, y) ||^2 with t uniform over the
training timesteps, and the label replaced by the learned null class with probability
dit.class_dropout (what classifier-free guidance needs). It is a Task (train/tasks.py) like every
other objective, so train/trainer.py gives it progress, checkpoints, the time budget and exact resume:
each batch's timesteps, noise and dropped labels come from a generator seeded by the batch's
rng_key, a pure function of (seed, epoch, batch). The variance is not learned (learn_sigma off: the
paper's L_vlb term is left out), so the samplers use DDPM's fixed variances.

Pixels are scaled to [-1, 1]; images may be resized (image_size below 28) to save compute, and
samples are then resized back to 28 x 28 for the metrics (evaluate.py says so in its results).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import TcatError
from ..nn.config import ModelConfig
from ..nn.dit_config import CONDITIONINGS
from ..train.tasks import Task
from .schedules import Schedule

DATA = ("fashion-mnist",)
N_VALID = 1000  # the last training images: the held-out loss (the test set is kept for the metrics)


@dataclass
class DiTSetting:
    """The model `tcat diffusion train` builds (a ModelConfig with a dit section, see dit_config())."""

    image_size: int = 28
    patch_size: int = 4
    d_model: int = 128
    depth: int = 4
    heads: int = 4
    conditioning: str = "adaln-zero"
    class_dropout: float = 0.1


@dataclass
class DataSetting:
    """What is trained on: stored in the run's config.json (task) and checked on --resume."""

    data: str = "fashion-mnist"
    n_train: int = 59000  # training images (the last 1,000 of the 60,000 are the validation split)
    schedule: str = "linear"
    timesteps: int = 1000
    image_size: int = 28
    extra: dict = field(default_factory=dict)


def dit_config(s: DiTSetting, n_classes: int = 10, channels: int = 1) -> ModelConfig:
    """A small DiT in the paper's shape: pre-norm blocks of width d, MLP ratio 4 with tanh-GELU; adaLN
    variants normalise without affine parameters (the modulation supplies them), the others with."""
    if s.conditioning not in CONDITIONINGS:
        raise TcatError(f"conditioning {s.conditioning!r}: use one of {', '.join(CONDITIONINGS)}")
    plain = s.conditioning in ("in-context", "cross-attention")
    return ModelConfig.from_dict(
        {
            "arch": "encoder",
            "d_model": s.d_model,
            "n_encoder_layers": s.depth,
            "n_decoder_layers": 0,
            "dropout": 0.0,
            "attention": {"n_heads": s.heads},
            "ffn": {"d_ff": 4 * s.d_model, "activation": "gelu_tanh"},
            "norm": {"affine": plain, "bias": plain, "eps": 1e-6, "placement": "pre", "final": True},
            "position": {"kind": "none"},
            "dit": {
                "image_size": s.image_size,
                "channels": channels,
                "patch_size": s.patch_size,
                "learn_sigma": False,
                "n_classes": n_classes,
                "class_dropout": s.class_dropout,
                "conditioning": s.conditioning,
            },
        }
    )


def load_split(data: DataSetting) -> dict:
    """{"train": (x in [-1, 1], y), "valid": ..., "test": ..., "classes"}, resized to data.image_size."""
    from ..data.images import load_images

    if data.data not in DATA:
        raise TcatError(f"diffusion data {data.data!r}: use one of {', '.join(DATA)}")
    raw = load_images(data.data)
    x, y = raw["train"]
    if not 1 <= data.n_train <= len(x) - N_VALID:
        raise TcatError(f"--n-train must be between 1 and {len(x) - N_VALID}, got {data.n_train}")

    def prep(images):
        if images.shape[-1] != data.image_size:
            images = F.interpolate(images, size=data.image_size, mode="area")
        return images * 2 - 1

    return {
        "train": (prep(x[: data.n_train]), y[: data.n_train]),
        "valid": (prep(x[-N_VALID:]), y[-N_VALID:]),
        "test": raw["test"],
        "classes": raw["classes"],
    }


class NoisePrediction:
    """The objective (train/tasks.py's protocol): batches of image indices, noised per batch key."""

    smooths = False

    def __init__(self, images, labels, schedule: Schedule, batch_size: int, class_dropout: float, null: int | None):
        self.images, self.labels, self.schedule = images, labels, schedule
        self.batch_size, self.class_dropout, self.null = batch_size, class_dropout, null

    def batches(self, examples: list, max_tokens: int, seed: int, epoch: int) -> list[list[int]]:
        from ..data.batching import fixed_size_batches

        return fixed_size_batches(len(examples), self.batch_size, seed, epoch)

    def batch(self, examples: list, rng) -> dict:
        """x_t, t, y (some replaced by the null class) and the noise to predict, from the batch's rng."""
        idx = torch.tensor(examples)
        gen = torch.Generator().manual_seed(rng.getrandbits(63))
        x0, y = self.images[idx], self.labels[idx]
        t = torch.randint(0, self.schedule.n_steps, (len(idx),), generator=gen)
        noise = torch.randn(x0.shape, generator=gen)
        if self.null is not None and self.class_dropout > 0:
            y = torch.where(torch.rand(len(idx), generator=gen) < self.class_dropout, self.null, y)
        return {"x": self.schedule.add_noise(x0, noise, t), "t": t, "y": y, "noise": noise}

    def loss(self, model, batch: dict) -> tuple[torch.Tensor, int]:
        pred = model(batch["x"], batch["t"], batch["y"])[:, : batch["noise"].size(1)]
        return F.mse_loss(pred, batch["noise"]), len(batch["t"])


class DiffusionTask(Task):
    def count_tokens(self, batch: dict) -> int:
        """Patches seen (the trainer's "tokens"): images x patches per image."""
        return int(batch["x"].size(0)) * self.meta["patches"]


def make_task(data: DataSetting, cfg: ModelConfig, max_tokens: int, split: dict | None = None) -> DiffusionTask:
    """The task of a run: images in the trainer's examples are indices into one tensor (train then valid).
    A micro-batch holds max_tokens // patches-per-image images (the trainer's tokens are patches)."""
    split = split or load_split(data)
    g = cfg.dit
    patches = g.grid**2
    (tx, ty), (vx, vy) = split["train"], split["valid"]
    if g.image_size != data.image_size or g.channels != tx.size(1):
        raise TcatError(
            f"model takes {g.channels}x{g.image_size}px images, the data has {tx.size(1)}x{data.image_size}px"
        )
    objective = NoisePrediction(
        torch.cat([tx, vx]),
        torch.cat([ty, vy]),
        Schedule(data.schedule, data.timesteps),
        max(1, max_tokens // patches),
        g.class_dropout,
        g.null_class,
    )
    return DiffusionTask(
        name="diffusion",
        objective=objective,
        train=list(range(len(tx))),
        valid=list(range(len(tx), len(tx) + len(vx))),
        pad_id=0,
        vocab_size=0,
        meta={"name": "diffusion", **asdict(data), "patches": patches},
    )


def read_dit(path) -> tuple:
    """(folder, config.json contents, model config) of a DiT run's checkpoint; any other model is refused
    in one line. `path`: the run folder or its checkpoint folder."""
    from ..train.checkpoint import read_config

    path = Path(path)
    if (path / "checkpoint" / "config.json").is_file():
        path = path / "checkpoint"
    folder, meta, cfg = read_config(path)
    if not isinstance(cfg, ModelConfig) or cfg.dit is None or (meta.get("task") or {}).get("name") != "diffusion":
        raise TcatError(f"{folder}: a checkpoint of another kind of model, not a DiT trained by tcat diffusion train")
    return folder, meta, cfg


def load_dit(path) -> tuple:
    """(model in eval mode, config.json contents) of a DiT run or checkpoint folder."""
    from ..train.checkpoint import load_model

    folder, _, _ = read_dit(path)
    model, meta, _ = load_model(folder)
    return model, meta


def train(
    setting: DiTSetting,
    data: DataSetting,
    train_cfg,
    out,
    *,
    resume: bool = False,
    progress: bool = True,
    split: dict | None = None,
) -> dict:
    """Train (or with `resume`, continue) a DiT into `out` (out/checkpoint, metrics.jsonl, loss.png).
    Every check happens before anything is written."""
    from dataclasses import replace

    from ..files import output_dir
    from ..nn import build_model
    from ..train.trainer import Trainer

    out = Path(out)
    if resume:
        _, meta, cfg = read_dit(out / "checkpoint")
        saved = {k: v for k, v in meta["task"].items() if k not in ("name", "patches")}
        data = DataSetting(**saved)
        honoured = ("steps", "max_minutes", "eval_every", "save_every")  # this invocation's; the rest is the run's
        kept = {k: v for k, v in meta["train"].items() if k not in honoured}
        train_cfg = replace(train_cfg, **kept)
    else:
        if (out / "checkpoint").exists():
            raise TcatError(f"{out} already holds a run: continue it with --resume, or train into another --out")
        data = replace(data, image_size=setting.image_size)
        cfg = dit_config(setting)
    task = make_task(data, cfg, train_cfg.max_tokens, split)
    out = output_dir(out)
    torch.manual_seed(train_cfg.seed)
    model = build_model(cfg)
    trainer = Trainer(model, task, train_cfg, out, progress=progress, run_meta={"command": "tcat diffusion train"})
    if resume:
        trainer.resume()
    state = trainer.fit()
    return {"state": state, "history": trainer.history, "out": str(out)}
