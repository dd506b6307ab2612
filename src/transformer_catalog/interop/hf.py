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
from ..nn.model import build_model


def family_for(model_type: str):
    """The family for a Hugging Face model_type (kept for callers of the old name)."""
    return family_for_hf(model_type)


def _read_tensors(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    single = folder / "model.safetensors"
    index = folder / "model.safetensors.index.json"
    if single.is_file():
        files = [single]
    elif index.is_file():
        files = sorted({folder / f for f in json.loads(index.read_text())["weight_map"].values()})
    elif any((folder / n).exists() for n in ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack")):
        raise TcatError(f"{folder}: only safetensors weights are loaded (pickle files can run code); "
                        "re-save the model with save_pretrained(..., safe_serialization=True)")
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
    model = build(cfg, device="meta")
    check_fits_in_memory(model, str(folder / "config.json"))
    tensors = _read_tensors(folder)
    wrapper = next((w for w in fam.hf_wrapper_prefixes if any(k.startswith(w) for k in tensors)), "")
    if wrapper:  # e.g. BertForMaskedLM keeps the encoder under bert.
        tensors = {k[len(wrapper):] if k.startswith(wrapper) else k: v for k, v in tensors.items()}
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
    tensors = list(meta_model.parameters()) + list(meta_model.buffers())
    seen, total = set(), 0
    for t in tensors:
        if id(t) not in seen:
            seen.add(id(t))
            total += t.numel() * t.element_size()
    return total


def check_fits_in_memory(meta_model, where: str, available: int | None = None) -> None:
    """Refuse, before allocating anything, a model larger than the memory available: a config of a
    few lines can ask for hundreds of gigabytes (its sizes or its max_position_embeddings)."""
    need = model_bytes(meta_model)
    available = available_memory() if available is None else available
    if available is not None and need > available:
        raise TcatError(f"{where}: the model needs {need / 2**30:.1f} GiB for its weights, more than the "
                        f"{available / 2**30:.1f} GiB of memory available")


def tied_names(model) -> set[str]:
    """State-dict names that alias a parameter listed under another name (tied embeddings)."""
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    return {k for k in model.state_dict() if k not in params and k not in buffers}


def to_hf(model, folder: str | Path, model_type: str) -> Path:
    """Write `model` as a Hugging Face folder of the given architecture (loadable by transformers)."""
    from safetensors.torch import save_file

    fam = family_for_hf(model_type)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    hf_cfg = fam.config_to_hf(model.config, model_type)
    tied = tied_names(model)
    state = {k: v.detach() for k, v in model.state_dict().items() if k not in tied}
    tensors = ours_to_hf(state, fam.rules(model.config), fam.layers(model.config), fam.head_count(model.config))
    if fam.unpack is not None:
        tensors = fam.unpack(tensors, model.config)
    (folder / "config.json").write_text(json.dumps(hf_cfg, indent=2))
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder
