"""A checkpoint is a folder, written whole or not at all.

  config.json          {"model": ModelConfig dict, "task": ..., "train": ...}
  model.safetensors    weights (tied tensors stored once)
  tokenizer.json       Hugging Face tokenizers format, when the task has one
  trainer_state.json   step, epoch, next batch, elapsed time (only in training checkpoints)
  optimizer.safetensors + rng.safetensors   optimizer moments and RNG state, for exact resume

Everything is written into a temporary sibling folder that is swapped into place at the end
(files.staging_dir/swap_dir): at every instant of a save a complete checkpoint exists, under its
name or as the aside copy that `recover` (called by `resolve`) renames back, so a crash or SIGKILL
leaves the old checkpoint or the new one, never half of one and never none. Weights
are only ever read with safetensors: a pickle (.pt/.bin/.ckpt/.pkl) is refused, never unpickled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .. import files
from ..errors import TcatError
from ..nn.config import ModelConfig
from ..nn.dual import build_any, config_from_dict

PICKLE_SUFFIXES = {".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle"}
# What a checkpoint folder holds. A save replaces the folder whole, so it refuses one holding
# anything else: `tcat build --out ~/thesis` must not delete the thesis.
CHECKPOINT_FILES = {
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "trainer_state.json",
    "optimizer.safetensors",
    "rng.safetensors",
    files.MARKER,
}


def check_replaceable(folder: str | Path) -> None:
    """TcatError unless `folder` is absent, empty, or a checkpoint folder (only checkpoint files)."""
    folder = Path(folder)
    recover(folder)
    if not folder.exists() and not folder.is_symlink():
        return
    if folder.is_symlink() or not folder.is_dir():
        raise TcatError(f"{folder}: exists and is not a checkpoint folder; choose another output folder")
    try:
        others = sorted(n for n in os.listdir(folder) if n not in CHECKPOINT_FILES)
    except OSError as e:
        raise TcatError(f"{folder}: cannot read ({e.strerror})") from None
    if others:
        raise TcatError(
            f"{folder} holds files that are not part of a checkpoint ({', '.join(others[:3])}"
            f"{', ...' if len(others) > 3 else ''}); a save replaces the folder whole: choose another "
            "output folder"
        )


def recover(folder: str | Path) -> bool:
    """Finish or undo a save that was stopped (killed) mid-swap, and remove the temporary folders a
    dead writer left. `folder` is the checkpoint folder itself (a run's out/checkpoint). Returns
    whether a checkpoint folder exists afterwards. Call this before testing for a checkpoint."""
    return files.recover_dir(folder)


def resolve(path: str | Path) -> Path:
    """Accept a checkpoint folder or a run folder that holds one in checkpoint/."""
    path = Path(path)
    if path.suffix in PICKLE_SUFFIXES and path.is_file():
        raise TcatError(
            f"{path}: refusing to load a pickle file (it can run arbitrary code); "
            "convert it to a checkpoint folder with model.safetensors"
        )
    # A save killed mid-swap leaves the checkpoint under its aside name: put it back first.
    if path.is_dir():
        recover(path / "checkpoint")
    if not path.exists() or (path / "config.json").is_file():
        recover(path)
    if (path / "checkpoint" / "config.json").is_file():
        return path / "checkpoint"
    if not path.exists():
        raise TcatError(f"{path}: no such checkpoint folder")
    if not (path / "config.json").is_file():
        raise TcatError(f"{path}: not a checkpoint folder (no config.json); pass the folder 'tcat train --out' wrote")
    return path


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TcatError(f"{path}: unreadable JSON ({e})") from None


def read_config(path: str | Path) -> tuple[Path, dict, ModelConfig]:
    """(folder, config.json contents, model config: a ModelConfig, or a DualEncoderConfig for CLIP)."""
    folder = resolve(path)
    meta = _read_json(folder / "config.json")
    if "model" not in meta:
        raise TcatError(f"{folder / 'config.json'}: no 'model' section")
    try:
        cfg = config_from_dict(meta["model"])
    except TcatError as e:
        raise TcatError(f"{folder / 'config.json'}: {e}") from None
    return folder, meta, cfg


def _load_tensors(file: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    if not file.is_file():
        raise TcatError(f"{file}: missing")
    try:
        return load_file(str(file))
    except Exception as e:  # SafetensorError, OSError, ...: one line, never a traceback
        raise TcatError(f"{file}: corrupt or not a safetensors file ({str(e).splitlines()[0][:100]})") from None


def aliases(model: torch.nn.Module) -> dict[str, str]:
    """Tied parameter names -> the name they alias (the first under which the parameter appears)."""
    first: dict[int, str] = {}
    out = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        if id(p) in first:
            out[name] = first[id(p)]
        else:
            first[id(p)] = name
    return out


def read_weights(model: torch.nn.Module, file: Path) -> dict[str, torch.Tensor]:
    """The tensors of `file`, checked against `model`'s names and shapes, tied aliases filled in.
    Works for sharded models too (a DTensor reports its global shape)."""
    tensors = _load_tensors(file)
    expected = model.state_dict()
    # Tied tensors are stored once (under one of their names): fill in the aliases.
    groups: dict[str, list[str]] = {}
    for name, target in aliases(model).items():
        groups.setdefault(target, [target]).append(name)
    for names in groups.values():
        stored = next((tensors[n] for n in names if n in tensors), None)
        if stored is not None:
            for n in names:
                tensors.setdefault(n, stored)
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing:
        raise TcatError(f"{file}: tensor {missing[0]} is missing ({len(missing)} missing in all)")
    if unexpected:
        raise TcatError(f"{file}: unexpected tensor {unexpected[0]} ({len(unexpected)} unexpected in all)")
    for name, t in expected.items():
        if tensors[name].shape != t.shape:
            raise TcatError(
                f"{file}: tensor {name} has shape {list(tensors[name].shape)}, the config needs {list(t.shape)}"
            )
    return tensors


def load_weights(model: torch.nn.Module, file: Path) -> None:
    model.load_state_dict(read_weights(model, file))


def load_model(path: str | Path):
    """(model in eval mode, meta dict, tokenizer or None) from a checkpoint folder."""
    from ..data.tokenizer import Tokenizer

    folder, meta, cfg = read_config(path)
    model = build_any(cfg)
    load_weights(model, folder / "model.safetensors")
    tok = Tokenizer.load(folder / "tokenizer.json") if (folder / "tokenizer.json").is_file() else None
    return model.eval(), meta, tok


def _optimizer_tensors(sd: dict) -> tuple[dict[str, torch.Tensor], list]:
    """An optimizer state dict (state keyed by parameter index) as flat tensors + param groups."""
    tensors = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            tensors[f"{idx}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return tensors, sd["param_groups"]


def _optimizer_state(tensors: dict[str, torch.Tensor], groups: list) -> dict:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    return {"state": state, "param_groups": groups}


def save_checkpoint(
    folder: str | Path,
    model: torch.nn.Module,
    meta: dict,
    tokenizer=None,
    optimizer: torch.optim.Optimizer | None = None,
    trainer_state: dict | None = None,
    *,
    weights: dict[str, torch.Tensor] | None = None,
    optimizer_state: dict | None = None,
) -> Path:
    """Write `model` (its config, and its weights unless `weights` gives them gathered from shards)
    and, for training checkpoints, the optimizer (or its gathered `optimizer_state`) and trainer state."""
    from safetensors.torch import save_file, save_model

    folder = Path(folder)
    check_replaceable(folder)  # before anything is written
    tmp = files.staging_dir(folder)
    files.write_json(tmp / "config.json", {"model": model.config.to_dict(), **meta})
    if weights is None:
        save_model(model, str(tmp / "model.safetensors"))  # drops tied duplicates
    else:
        tied = aliases(model)
        save_file({k: v.contiguous() for k, v in weights.items() if k not in tied}, str(tmp / "model.safetensors"))
    if tokenizer is not None:
        tokenizer.save(tmp / "tokenizer.json")
    if optimizer is not None and optimizer_state is None:
        optimizer_state = optimizer.state_dict()
    if optimizer_state is not None:
        tensors, groups = _optimizer_tensors(optimizer_state)
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp / "optimizer.safetensors"))
        trainer_state = {**(trainer_state or {}), "optimizer_param_groups": groups}
    if trainer_state is not None:
        save_file({"torch": torch.get_rng_state()}, str(tmp / "rng.safetensors"))
        files.write_json(tmp / "trainer_state.json", trainer_state)
    return files.swap_dir(tmp, folder)  # old -> aside, new -> place, aside dropped


def load_training_state(folder: Path) -> tuple[dict, dict]:
    """(trainer_state, optimizer state dict keyed by parameter index) of a training checkpoint;
    restores the torch RNG."""
    state = _read_json(folder / "trainer_state.json")
    optimizer_state = _optimizer_state(
        _load_tensors(folder / "optimizer.safetensors"), state.pop("optimizer_param_groups")
    )
    torch.set_rng_state(_load_tensors(folder / "rng.safetensors")["torch"])
    return state, optimizer_state
