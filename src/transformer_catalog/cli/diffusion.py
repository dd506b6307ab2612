"""`tcat diffusion train|sample|evaluate`: a class-conditional DiT on Fashion-MNIST (diffusion/).

train     through the one trainer: progress bar, checkpoints, --resume continues exactly
sample    a PNG grid, one row per class (DDIM or DDPM, classifier-free guidance)
evaluate  FID-CNN and CAS of class-balanced samples under the metrics' protocol (metrics/)
"""

from __future__ import annotations

from ..errors import TcatError
from .common import add_json, add_threads, check_output_file, console, set_threads, write_json
from .options import add_fields, given, help_text, number

CONDITIONINGS = ("adaln-zero", "adaln", "in-context", "cross-attention")  # nn/dit_config.py, without torch
STEPS = number(int, 1, 10000)
GUIDANCE = number(float, 0, 100)
ETA = number(float, 0, 1)
SEED = number(int, 0, 2**31 - 1)
# model and data flags: (flag, dest, type or choices, default, help); fixed by the run on --resume
MODEL_FLAGS = (
    (
        "--image-size",
        "image_size",
        number(int, 4, 28),
        28,
        "image side in pixels (28 = Fashion-MNIST's; less: resized)",
    ),
    ("--patch", "patch_size", number(int, 1, 28), 4, "patch side in pixels; must divide --image-size"),
    ("--d-model", "d_model", number(int, 4, 4096), 128, "width (divisible by 4 and by --heads)"),
    ("--depth", "depth", number(int, 1, 64), 4, "DiT blocks"),
    ("--heads", "heads", number(int, 1, 64), 4, "attention heads"),
    ("--conditioning", "conditioning", CONDITIONINGS, "adaln-zero", "how timestep and class enter the blocks"),
    ("--class-dropout", "class_dropout", number(float, 0, 1, "[)"), 0.1, "share of labels replaced by the null class"),
)
DATA_FLAGS = (
    ("--n-train", "n_train", number(int, 1, 59000), 59000, "training images (the last 1,000 are held out)"),
    ("--noise-schedule", "noise_schedule", ("linear", "cosine"), "linear", "noise schedule (beta)"),
    ("--timesteps", "timesteps", number(int, 2, 10000), 1000, "training timesteps T"),
)
TRAIN_DEFAULTS = {"steps": 600, "lr": 1e-3, "warmup": 50, "eval_every": 200, "save_every": 200, "clip": 1.0}


def _add(sp, flags) -> None:
    for flag, dest, kind, default, text in flags:
        if isinstance(kind, tuple):
            sp.add_argument(flag, dest=dest, choices=kind, default=None, help=help_text(text, default, choices=kind))
        else:
            sp.add_argument(flag, dest=dest, type=kind, default=None, metavar="N" if kind.kind is int else "X",
                            help=help_text(text, default, kind))  # fmt: skip


def _values(args, flags) -> dict:
    """The flags given, under their settings' field names (--noise-schedule fills DataSetting.schedule: the
    trainer's --schedule is the learning rate's)."""
    out = {dest: getattr(args, dest) for _, dest, _, _, _ in flags if getattr(args, dest) is not None}
    if "noise_schedule" in out:
        out["schedule"] = out.pop("noise_schedule")
    return out


def cmd_train(args) -> int:
    from dataclasses import asdict

    from ..diffusion.training import DataSetting, DiTSetting, read_dit, train
    from ..train.config import TrainConfig

    set_threads(args.threads)
    model_given, data_given = _values(args, MODEL_FLAGS), _values(args, DATA_FLAGS)
    batch = args.batch or 128
    if args.resume:
        _, meta, cfg = read_dit(f"{args.out}/checkpoint")
        fixed = {**asdict(_setting_of(cfg)), **meta["task"]}
        for name, value in {**model_given, **data_given}.items():
            if fixed.get(name) != value:
                raise TcatError(
                    f"--{name.replace('_', '-')} {value} given with --resume: the run has {fixed.get(name)}"
                )
        setting, data = DiTSetting(), DataSetting()
    else:
        setting, data = DiTSetting(**model_given), DataSetting(**data_given)
    patches = (setting.image_size // setting.patch_size) ** 2 if setting.image_size % setting.patch_size == 0 else 1
    tc = TrainConfig(**{**TRAIN_DEFAULTS, "optimizer": "adamw", "schedule": "cosine", "beta2": 0.999, "eps": 1e-8,
                        "max_tokens": batch * patches, **given(args, TrainConfig)})  # fmt: skip
    result = train(setting, data, tc, args.out, resume=args.resume, progress=not args.quiet)
    losses = [r for r in result["history"] if "loss" in r]
    last = f", loss {losses[-1]['loss']:.4f}" if losses else ""
    console().print(f"trained to step {result['state']['step']}{last}; checkpoint in {args.out}/checkpoint")
    return 0


def _setting_of(cfg):
    from ..diffusion.training import DiTSetting

    g = cfg.dit
    return DiTSetting(g.image_size, g.patch_size, cfg.d_model, cfg.n_encoder_layers, cfg.attention.n_heads,
                      g.conditioning, g.class_dropout)  # fmt: skip


def _classes(text: str | None, n_classes: int) -> list[int]:
    if text is None:
        return list(range(n_classes))
    try:
        picked = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise TcatError(f"--classes {text!r}: expected class numbers separated by commas, e.g. 0,3,7") from None
    bad = [c for c in picked if not 0 <= c < n_classes]
    if not picked or bad:
        raise TcatError(f"--classes {text!r}: class label out of range; this model has classes 0..{n_classes - 1}")
    return picked


def cmd_sample(args) -> int:
    import torch

    from ..diffusion.sampling import check_request, grid_png, sample
    from ..diffusion.schedules import Schedule
    from ..diffusion.training import load_dit

    set_threads(args.threads)
    if not args.out.lower().endswith(".png"):
        raise TcatError(f"--out {args.out}: the grid is written as PNG; name a .png file")
    check_output_file(args.out)
    model, meta = load_dit(args.run)
    classes = _classes(args.classes, model.config.dit.n_classes)
    labels = torch.tensor(classes).repeat_interleave(args.per_class)
    check_request(model, labels, args.steps, args.guidance, args.sampler, args.eta)
    schedule = Schedule(meta["task"]["schedule"], meta["task"]["timesteps"])
    schedule.timesteps(args.steps)  # refuses more steps than training timesteps before any work
    images = sample(model, schedule, labels, args.steps, args.sampler, args.guidance, args.eta, args.seed)
    from ..data.images import FASHION_CLASSES

    names = [f"{c} {FASHION_CLASSES[c]}" if model.config.dit.n_classes == 10 else str(c) for c in classes]
    grid_png(images, len(classes), args.out, names)
    console().print(
        f"{len(labels)} samples ({args.sampler}, {args.steps} steps, guidance {args.guidance:g}) -> {args.out}"
    )
    return 0


def cmd_evaluate(args) -> int:
    from ..diffusion.evaluate import balanced_labels, score, scorer
    from ..diffusion.sampling import check_request
    from ..diffusion.schedules import Schedule
    from ..diffusion.training import load_dit

    set_threads(args.threads)
    check_output_file(args.json)
    model, meta = load_dit(args.run)
    check_request(model, balanced_labels(args.samples, model.config.dit.n_classes), args.steps, args.guidance,
                  args.sampler, args.eta)  # fmt: skip
    schedule = Schedule(meta["task"]["schedule"], meta["task"]["timesteps"])
    schedule.timesteps(args.steps)
    result = score(
        model, schedule, scorer(), args.samples, args.steps, args.guidance, args.sampler, args.eta, args.seed
    )
    result.pop("images")
    console().print(
        f"FID-CNN {result['fid_cnn']:.2f}, CAS {result['cas']:.3f} on {result['n_samples']} samples "
        f"({args.sampler}, {args.steps} steps, guidance {args.guidance:g}); FID-CNN is measured in the features of "
        "a Fashion-MNIST classifier trained here, not Inception's: compare it only with tcat's other generators"
    )
    write_json(args.json, result)
    return 0


def _sampling_flags(sp) -> None:
    sp.add_argument("run", metavar="RUN", help="a tcat diffusion train run folder (or its checkpoint folder)")
    sp.add_argument("--steps", type=STEPS, default=50, metavar="N",
                    help=help_text("sampling steps (at most the training timesteps)", 50, STEPS))  # fmt: skip
    sp.add_argument("--sampler", choices=("ddim", "ddpm"), default="ddim",
                    help=help_text("reverse process", "ddim", choices=("ddim", "ddpm")))  # fmt: skip
    sp.add_argument("--eta", type=ETA, default=0.0, metavar="X",
                    help=help_text("DDIM's noise: 0 deterministic, 1 DDPM-like", 0.0, ETA))  # fmt: skip
    sp.add_argument("--guidance", type=GUIDANCE, default=1.5, metavar="X",
                    help=help_text("classifier-free guidance (1 none, 0 unconditional)", 1.5, GUIDANCE))  # fmt: skip
    sp.add_argument("--seed", type=SEED, default=0, metavar="N", help=help_text("seed of the noise", 0, SEED))
    add_threads(sp)


def register(sub, add) -> None:
    group = add("diffusion", None, "a class-conditional DiT on Fashion-MNIST: train, sample, evaluate")
    inner = group.add_subparsers(dest="diffusion_command", metavar="COMMAND", required=True)
    if getattr(group, "skipped", False):
        return
    help = "train a DiT (noise prediction) through the trainer: checkpoints, --resume continues exactly"
    sp = inner.add_parser("train", help=help, description=help)
    sp.add_argument("--out", required=True, help="run folder: checkpoint/, metrics.jsonl, loss.png (required)")
    sp.add_argument(
        "--resume", action="store_true", help="continue the run in --out exactly where it stopped (default off)"
    )
    sp.add_argument("--batch", type=number(int, 1, 4096), default=None, metavar="N",
                    help=help_text("images per micro-batch", 128, number(int, 1, 4096)))  # fmt: skip
    sp.add_argument("--quiet", action="store_true", help="no progress bar (default off)")
    _add(sp, MODEL_FLAGS)
    _add(sp, DATA_FLAGS)
    include = ("steps", "max_minutes", "lr", "warmup", "weight_decay", "clip", "eval_every", "save_every", "seed")
    add_fields(sp, _train_config(), include=include, defaults=TRAIN_DEFAULTS)
    add_threads(sp)
    sp.set_defaults(fn=cmd_train)
    help = "sample a PNG grid from a trained DiT: one row per class"
    sp = inner.add_parser("sample", help=help, description=help)
    _sampling_flags(sp)
    sp.add_argument("--out", required=True, metavar="FILE.png", help="the grid (required)")
    sp.add_argument("--classes", default=None, metavar="C,C,...", help="class numbers, one row each (default: all)")
    sp.add_argument("--per-class", type=number(int, 1, 64), default=8, metavar="N",
                    help=help_text("samples per class (columns)", 8, number(int, 1, 64)))  # fmt: skip
    sp.set_defaults(fn=cmd_sample)
    help = "FID-CNN and CAS of class-balanced samples (the metrics' protocol; 10,000 samples for comparable FID)"
    sp = inner.add_parser("evaluate", help=help, description=help)
    _sampling_flags(sp)
    sp.add_argument("--samples", type=number(int, 10, 100000), default=1000, metavar="N",
                    help=help_text("samples, a multiple of 10", 1000, number(int, 10, 100000)))  # fmt: skip
    add_json(sp)
    sp.set_defaults(fn=cmd_evaluate)


def _train_config():
    from ..train.config import TrainConfig  # torch-free

    return TrainConfig


__all__ = ["register", "cmd_train", "cmd_sample", "cmd_evaluate"]
