"""from_hf / to_hf: Hugging Face folders (config.json + safetensors) <-> tcat models.

The converter is chosen by the architecture the folder declares (`model_type` in config.json),
never by a model's name. Only safetensors are read: pytorch_model.bin (a pickle) is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..errors import TcatError
from ..families import family_for_hf
from ..families._rules import hf_to_ours, ours_to_hf
from ..nn.config import ModelConfig
from ..nn.model import build_model


def _shards(index: Path) -> list[Path]:
    """The shard files a model.safetensors.index.json names (plain file names inside its folder)."""
    try:
        names = set(json.loads(index.read_bytes().decode("utf-8"))["weight_map"].values())
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError, OSError) as e:
        raise TcatError(f"{index}: not a safetensors index ({type(e).__name__}: {str(e)[:80]})") from None
    bad = next((n for n in names if not isinstance(n, str) or Path(n).name != n or n in (".", "..")), None)
    if bad is not None:
        raise TcatError(f"{index}: shard {bad!r} is not a file name in this folder")
    return sorted(index.parent / n for n in names)


def _read_tensors(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    single = folder / "model.safetensors"
    index = folder / "model.safetensors.index.json"
    if single.is_file():
        files = [single]
    elif index.is_file():
        files = _shards(index)
    elif any((folder / n).exists() for n in ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack")):
        raise TcatError(
            f"{folder}: only safetensors weights are loaded (pickle files can run code); "
            "re-save the model with save_pretrained(..., safe_serialization=True)"
        )
    else:
        raise TcatError(f"{folder}: no model.safetensors")
    tensors = {}
    for f in files:
        try:
            tensors.update(load_file(str(f)))
        except Exception as e:
            raise TcatError(f"{f}: corrupt or not a safetensors file ({str(e).splitlines()[0][:100]})") from None
    return tensors


def from_hf(folder: str | Path):
    """A tcat model (eval mode, fp32) with the weights of a Hugging Face checkpoint folder."""
    folder = Path(folder)
    hf_cfg = read_config(folder)
    fam = family_for_hf(hf_cfg.get("model_type", "?"))
    cfg = _config_from_hf(fam, hf_cfg, folder / "config.json")
    build = fam.build or build_model  # two-tower families (CLIP) have their own model class
    check_fits_in_memory(estimate_bytes(cfg, build), str(folder / "config.json"))
    model = build(cfg, device="meta")
    tensors = _read_tensors(folder)
    wrapper = next((w for w in fam.hf_wrapper_prefixes if any(k.startswith(w) for k in tensors)), "")
    if wrapper:  # e.g. BertForMaskedLM keeps the encoder under bert.
        tensors = {k[len(wrapper) :] if k.startswith(wrapper) else k: v for k, v in tensors.items()}
    if fam.hf_prefix and not any(k.startswith(fam.hf_prefix) for k in tensors):
        tensors = {fam.hf_prefix + k: v for k, v in tensors.items()}  # a base-model checkpoint
    if fam.check is not None:
        fam.check(tensors, str(folder))  # e.g. BART: a dropped tensor must carry no information
    if fam.pack is not None:
        tensors = fam.pack(tensors, cfg, str(folder))  # e.g. per-expert tensors -> stacked experts
    tied = tied_names(model)
    expected = {k: v.shape for k, v in model.state_dict().items() if k not in tied}
    ours = hf_to_ours(tensors, fam.rules(cfg), fam.layers(cfg), expected, fam.ignored, str(folder), fam.head_count(cfg))
    model = build(cfg)
    missing = [k for k in expected if k not in ours]
    if missing:
        raise TcatError(f"{folder}: no Hugging Face tensor maps to {missing[0]}")
    model.load_state_dict(ours, strict=False)
    return model.eval()


def read_config(folder: Path) -> dict:
    """config.json of a Hugging Face folder as a dict; anything else is one line naming the file."""
    path = folder / "config.json"
    try:
        hf_cfg = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise TcatError(f"{folder}: no config.json (not a Hugging Face model folder)") from None
    except IsADirectoryError:
        raise TcatError(f"{path}: is a folder, not a JSON file") from None
    except UnicodeDecodeError:
        raise TcatError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise TcatError(f"{path}: unreadable JSON ({e})") from None
    except OSError as e:
        raise TcatError(f"{path}: cannot be read ({e.strerror or e})") from None
    if not isinstance(hf_cfg, dict):
        raise TcatError(f"{path}: expected a JSON object, got {type(hf_cfg).__name__}")
    if not isinstance(hf_cfg.get("model_type", "?"), str):
        raise TcatError(f"{path}: model_type must be a string, got {hf_cfg['model_type']!r}")
    return hf_cfg


def _config_from_hf(fam, hf_cfg: dict, where: Path):
    """The family's translation; a missing or mistyped field is one line naming it (the converters
    index the dict directly, so a config cut short fails on the first field it lacks)."""
    try:
        return fam.config_from_hf(hf_cfg)
    except TcatError:
        raise
    except KeyError as e:
        raise TcatError(f"{where}: required field {e.args[0]!r} is missing") from None
    except (TypeError, ValueError, AttributeError, ZeroDivisionError, OverflowError) as e:
        raise TcatError(f"{where}: a field has a value of the wrong type or range ({e})") from None


def available_memory() -> int | None:
    """Bytes the kernel says can be allocated without swapping (MemAvailable); None if unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def model_bytes(meta_model) -> int:
    """Bytes the model's parameters and buffers (position tables too) take once allocated."""
    seen, total = set(), 0
    for t in [*meta_model.parameters(), *meta_model.buffers()]:
        if id(t) not in seen:
            seen.add(id(t))
            total += t.numel() * t.element_size()
    return total


def estimate_bytes(cfg, build=build_model) -> int:
    """model_bytes of the model `cfg` describes, without building all of it: a deep stack is one
    layer plus what each further layer adds, measured once per kind of layer (dense or experts),
    as nn/count.py counts parameters (a config.json can ask for a million layers, whose meta build
    alone would take an hour)."""
    if not isinstance(cfg, ModelConfig) or cfg.share_layers:
        return model_bytes(build(cfg, device="meta"))
    layers = {
        "n_encoder_layers": cfg.n_encoder_layers if cfg.arch != "decoder" else 0,
        "n_decoder_layers": cfg.n_decoder_layers if cfg.arch != "encoder" else 0,
    }
    period = len(cfg.moe.pattern) if cfg.moe is not None else 1
    deep = {k: n for k, n in layers.items() if n > 1 + period}
    if not deep:
        return model_bytes(build(cfg, device="meta"))
    few = {k: 1 for k in deep}

    def measure(key: str, n: int) -> int:
        return model_bytes(build(cfg.replace(**{**few, key: n}), device="meta"))

    total = measure(next(iter(deep)), 1)
    for key, n in deep.items():
        kinds = [cfg.experts_at(i) for i in range(1, n)]
        for kind in set(kinds):
            first = 1 + kinds.index(kind)  # the first layer after layer 0 of this kind
            total += kinds.count(kind) * (measure(key, first + 1) - measure(key, first))
    return total


def check_fits_in_memory(need: int, where: str, available: int | None = None) -> None:
    """Refuse, before allocating anything, a model larger than the memory available: a config of a
    few lines can ask for hundreds of gigabytes (its sizes or its max_position_embeddings)."""
    available = available_memory() if available is None else available
    if available is not None and need > available:
        raise TcatError(
            f"{where}: the model needs {need / 2**30:.1f} GiB for its weights, more than the "
            f"{available / 2**30:.1f} GiB of memory available"
        )


def tied_names(model) -> set[str]:
    """State-dict names that alias a parameter listed under another name (tied embeddings)."""
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    return {k for k in model.state_dict() if k not in params and k not in buffers}


def to_hf(model, folder: str | Path, model_type: str, *, force: bool = False) -> Path:
    """Write `model` as a Hugging Face folder of the given architecture (loadable by transformers).
    Everything is converted before anything is written; the folder is new, empty, one tcat wrote,
    or `force`d (files.output_dir), and each file is written atomically, never through a link."""
    from safetensors.torch import save

    from ..files import output_dir, write_bytes, write_json

    fam = family_for_hf(model_type)
    hf_cfg = fam.config_to_hf(model.config, model_type)
    tied = tied_names(model)
    state = {k: v.detach() for k, v in model.state_dict().items() if k not in tied}
    tensors = ours_to_hf(state, fam.rules(model.config), fam.layers(model.config), fam.head_count(model.config))
    if fam.unpack is not None:
        tensors = fam.unpack(tensors, model.config)
    data = save({k: v.contiguous() for k, v in tensors.items()}, metadata={"format": "pt"})
    folder = output_dir(folder, force=force)
    write_json(folder / "config.json", hf_cfg)
    write_bytes(folder / "model.safetensors", data)
    return folder
