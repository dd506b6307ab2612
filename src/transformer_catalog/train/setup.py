"""Setting up a training run: fresh, from pretrained weights (--init), or resumed (--resume).

Everything a run is told is checked here before anything is written: the model and task resolve,
the sizes fit in memory, the output folder can take a run, and on --resume every flag is either
honoured or refused (train/config.py says which). A resumed run keeps its model, data and
optimisation; what may change is how long it runs and how often it reports and saves. Its global
batch (processes x accumulation micro-batches) is kept when the process count changes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..errors import TcatError
from .config import RunOptions, TrainConfig

# weights, gradients and Adam's two moments, in fp32
TRAIN_BYTES_PER_PARAM = 16


@dataclass
class Run:
    trainer: object
    resumed: bool
    lines: list[str] = field(default_factory=list)  # what to tell the user before training starts


def flag(name: str, cls=RunOptions) -> str:
    for f in fields(cls):
        if f.name == name:
            return f.metadata.get("flag", "--" + name.replace("_", "-"))
    for f in fields(TrainConfig):
        if f.name == name:
            return f.metadata.get("flag", "--" + name.replace("_", "-"))
    return "--" + name


def overrides(items: list[str]) -> dict:
    """--set a.b=value pairs; values are read as JSON (numbers, true/false) or else as strings."""
    out = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise TcatError(f"--set {item!r}: expected FIELD=VALUE, e.g. --set attention.n_heads=8")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def train_config(values: dict, model_cfg=None) -> TrainConfig:
    """A TrainConfig from option values (bf16 given as auto/on/off becomes on or off here; auto
    times a bf16 and an fp32 matmul of `model_cfg`'s shape: tokens per micro-batch x width x ffn)."""
    from ..runtime import use_bf16

    values = dict(values)
    if isinstance(values.get("bf16"), str):
        probe = None
        if model_cfg is not None:
            width = model_cfg.d_model
            probe = (values.get("max_tokens", TrainConfig.max_tokens), width, model_cfg.ffn.d_ff or 4 * width)
        values["bf16"] = use_bf16(values["bf16"], probe)
    return TrainConfig(**values)


def check_out(out: Path, force: bool = False) -> None:
    """The run folder must be a folder we may write into: refused before any data work."""
    from ..files import MARKER

    if out.exists() and not out.is_dir():
        raise TcatError(f"--out {out}: exists and is not a folder")
    if out.is_dir():
        from .checkpoint import recover

        recover(out / "checkpoint")  # a save killed mid-swap leaves its checkpoint aside: put it back first
    if (out / "checkpoint" / "config.json").exists():
        raise TcatError(f"{out} already holds a checkpoint; pass --resume to continue it or choose another --out")
    if out.is_dir() and not force and not (out / MARKER).is_file() and any(out.iterdir()):
        raise TcatError(f"--out {out} is a non-empty folder tcat did not create; choose an empty or new folder")
    parent = next((p for p in out.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise TcatError(f"--out {out}: {parent} is a file, not a folder")


def check_task_fits(task: str, cfg) -> None:
    from ..objectives import OBJECTIVES, describe

    need = "encoder-decoder" if task in ("translate", "copy") else None
    if task in OBJECTIVES:
        need = describe(task).arch
    if need and cfg.arch != need:
        raise TcatError(f"--task {task} trains a model of architecture {need}; --model is {cfg.arch}")


def fresh(opts: RunOptions, train: dict, world: int, progress: bool) -> Run:
    """A new run into opts.out; `train`: the TrainConfig fields given (others take their defaults)."""
    import torch

    from ..nn.count import count_parameters
    from ..nn.model import build_model
    from ..runtime import check_memory
    from .tasks import make_task
    from .trainer import Trainer

    out = Path(opts.out)
    check_out(out)
    changes = overrides(opts.set)
    if opts.dropout is not None:
        changes["dropout"] = opts.dropout
    tokenizer, init_state = None, None
    if opts.init:  # pretrained weights, with their tokenizer (e.g. --init minilm)
        from .pretrained import load_encoder, resolve_encoder

        core, tokenizer, _ = load_encoder(resolve_encoder(opts.init))
        base, init_state = core.config.replace(**changes), core.state_dict()
        name = opts.init
    else:
        from ..catalog.specs import resolve

        base = resolve(opts.model, scale=opts.scale).config.replace(**changes)  # validates before data work
        name = opts.model
    check_memory(
        count_parameters(base),
        TRAIN_BYTES_PER_PARAM,
        f"training {name}",
        "lower the sizes (--set d_model=..., n_layers) or use --scale tiny",
    )
    check_task_fits(opts.task, base)
    if opts.max_len > base.position.max_len:
        raise TcatError(
            f"--max-len {opts.max_len} is longer than the model's context (position.max_len="
            f"{base.position.max_len}); lower it or --set position.max_len=..."
        )
    max_len = opts.max_len or base.position.max_len
    task = make_task(opts.task, opts.data, opts.vocab or min(base.embedding.vocab_size, 32000), max_len, tokenizer)
    model_cfg = base.replace(**{"embedding.vocab_size": task.vocab_size, "embedding.pad_id": task.pad_id})
    cfg = train_config({"bf16": "auto", **train}, model_cfg)
    torch.manual_seed(cfg.seed)
    model = build_model(model_cfg)
    if init_state is not None:
        model.load_state_dict(init_state)
    model = task.objective.wrap(model)  # heads the objective needs (MLM head, ELECTRA's generator)
    identity = {k: getattr(opts, k) for k in RunOptions.IDENTITY}
    trainer = Trainer(model, task, cfg, out, progress=progress, fsdp=opts.fsdp, run_meta={**identity, "world": world})
    from ..files import output_dir

    output_dir(out)  # everything checked: now the run folder may be written (marked as tcat's)
    n = sum(p.numel() for p in model.parameters())
    line = (
        f"training {name} ({n / 1e6:.2f}M parameters) on {task.name}: {len(task.train):,} train / "
        f"{len(task.valid):,} valid examples -> {out}"
        + (f" on {world} processes ({'FSDP2' if opts.fsdp else 'DDP'})" if world > 1 else "")
        + (" in bf16 (fp32 master weights)" if cfg.bf16 and world == 1 else " with bf16 autocast" if cfg.bf16 else "")
    )
    return Run(trainer, False, [line])


def _refuse_changes(run_given: dict, train_given: dict, meta: dict) -> None:
    """On --resume a flag that decides the model, data or optimisation must equal the run's."""
    recorded = meta.get("run")
    task_meta = meta.get("task", {})
    for name, value in run_given.items():
        if name not in RunOptions.IDENTITY:
            continue
        if name == "task":
            was = task_meta.get("objective") or task_meta.get("name")
        elif name == "data" and "data" in task_meta:
            was = task_meta["data"]
        elif recorded is not None and name in recorded:
            was = recorded[name]
        else:
            raise TcatError(
                f"{flag(name)} cannot be given with --resume: a resumed run keeps its model and data "
                "(drop it, or train into a new --out)"
            )
        if value != was:
            shown = " ".join(value) if isinstance(value, list) else value
            raise TcatError(
                f"{flag(name)} {shown}: this run was trained with {was!r}; a resumed run keeps its "
                "model and data (drop the flag, or train into a new --out)"
            )
    for f in fields(TrainConfig):
        if f.name not in train_given or f.metadata.get("resume") == "honoured" or f.name == "grad_accum":
            continue
        was = meta["train"].get(f.name, f.default)
        if train_given[f.name] != was:
            changeable = ", ".join(
                flag(g.name, TrainConfig) for g in fields(TrainConfig) if g.metadata.get("resume") == "honoured"
            )
            raise TcatError(
                f"{flag(f.name, TrainConfig)} {train_given[f.name]}: this run was trained with {was}; "
                f"on --resume only {changeable} may change"
            )


def global_batch_accum(meta: dict, given: int | None, world: int) -> tuple[int, str]:
    """Accumulation steps for `world` processes that keep the run's global batch, and a note."""
    old_world = meta.get("run", {}).get("world", 1)
    old_accum = meta["train"].get("grad_accum", 1)
    total = old_world * old_accum  # micro-batches per optimizer step, all processes together
    if given is not None:
        if given * world != total:
            raise TcatError(
                f"--grad-accum {given} on {world} process(es) makes {given * world} micro-batches per "
                f"step; this run takes {total} ({old_world} x {old_accum}): keep the global batch"
            )
        return given, ""
    if total % world:
        raise TcatError(
            f"this run's global batch of {total} micro-batches ({old_world} processes x {old_accum}) "
            f"cannot be split over {world} processes; resume on a process count that divides {total}"
        )
    accum = total // world
    note = (
        ""
        if accum == old_accum
        else (
            f"resuming a {old_world}-process run on {world}: --grad-accum {old_accum} "
            f"-> {accum} keeps the global batch of {total} micro-batches"
        )
    )
    return accum, note


def resume(opts: RunOptions, run_given: dict, train_given: dict, world: int, progress: bool) -> Run:
    """Continue the run in opts.out exactly where it stopped; refuses every change it cannot honour."""
    from ..data.tokenizer import Tokenizer
    from ..nn.model import build_model
    from .checkpoint import read_config, recover
    from .tasks import make_task
    from .trainer import Trainer

    out = Path(opts.out)
    ckpt = out / "checkpoint"
    recover(ckpt)  # a save killed between its two renames left the checkpoint aside as checkpoint.tcat-old-PID
    if not (ckpt / "trainer_state.json").is_file():
        raise TcatError(f"{out}: nothing to resume (no checkpoint/trainer_state.json); drop --resume to start")
    folder, meta, model_cfg = read_config(ckpt)
    if not isinstance(meta.get("train"), dict) or not isinstance(meta.get("task"), dict):
        raise TcatError(f"{folder / 'config.json'}: not a training checkpoint (no 'train' and 'task' sections)")
    _refuse_changes(run_given, train_given, meta)
    try:
        state = json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
        step = int(state["step"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise TcatError(f"{folder / 'trainer_state.json'}: unreadable ({e})") from None
    if "steps" in train_given and train_given["steps"] < step:
        raise TcatError(f"--steps {train_given['steps']}: this run is already at step {step}")
    accum, note = global_batch_accum(meta, train_given.get("grad_accum"), world)
    known = {f.name for f in fields(TrainConfig)}
    values = {k: v for k, v in meta["train"].items() if k in known}
    values.update({k: v for k, v in train_given.items() if k in known})
    values["grad_accum"] = accum
    values["max_minutes"] = train_given.get("max_minutes", 0.0)  # this invocation's budget, not the run's
    cfg = train_config(values, model_cfg)
    tokenizer = Tokenizer.load(folder / "tokenizer.json") if (folder / "tokenizer.json").is_file() else None
    task_meta = meta["task"]
    task = make_task(
        task_meta.get("objective", task_meta["name"]),
        task_meta.get("data"),
        model_cfg.embedding.vocab_size,
        model_cfg.position.max_len,
        tokenizer,
    )
    model = build_model(model_cfg)
    model = task.objective.wrap(model)
    run_meta = {**meta.get("run", {}), "world": world}
    trainer = Trainer(model, task, cfg, out, progress=progress, fsdp=opts.fsdp, run_meta=run_meta)
    trainer.resume()
    lines = [note] if note else []
    lines.append(f"resuming {out} at step {trainer.state['step']}")
    return Run(trainer, True, lines)


def setup(opts: RunOptions, run_given: dict, train_given: dict, world: int = 1, progress: bool = True) -> Run:
    """The run `tcat train` asked for; `*_given`: the options the user wrote (the rest are defaults)."""
    if opts.fsdp and world == 1:
        raise TcatError("--fsdp shards the model across processes: launch with torchrun --nproc_per_node=N")
    if opts.resume:
        return resume(opts, run_given, train_given, world, progress)
    if opts.init and "model" in run_given:
        raise TcatError("--init starts from pretrained weights and replaces --model: give one of them")
    return fresh(opts, train_given, world, progress)


def describe_result(trainer, state: dict) -> dict:
    return {
        "step": state["step"],
        "tokens": state["tokens"],
        "elapsed_s": round(state["elapsed"], 1),
        "valid_loss": round(trainer.evaluate(), 4),
        "checkpoint": str(trainer.ckpt),
    }
