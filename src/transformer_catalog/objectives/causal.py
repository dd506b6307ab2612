"""Decoder objectives: causal LM (GPT), prefix LM (UL2's S-denoiser, GLM: a bidirectional prefix,
then left to right) and an XLNet-style permutation LM.

Permutation LM deviates from XLNet: XLNet's two-stream attention lets a predicted token see the
content of targets earlier in the factorisation order; here one stream carries all, so every target's
input is the mask token (its position is known, its content is not) — no target's content can leak
into its own prediction, at the price of conditioning on fewer tokens."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch
from torch import Tensor

from .base import IGNORE, Defaults, Vocab, flatten, generator, pad, token_loss


class LowPrecisionCrossEntropy(torch.autograd.Function):
    """Mean cross-entropy over labelled rows of bf16 logits, computed in fp32 a chunk of rows at a
    time: `F.cross_entropy(logits.float())` materialises the fp32 logits, then fp32 log-probabilities
    (kept for backward), then an fp32 gradient cast back to bf16. Here nothing of the logits' size
    is fp32: forward keeps the bf16 logits and one fp32 log-sum-exp per row, backward writes the
    bf16 gradient (softmax - one-hot) chunk by chunk."""

    CHUNK_ELEMENTS = 1 << 22  # fp32 working set of one chunk: 16 MB

    @staticmethod
    def forward(ctx, logits: Tensor, labels: Tensor) -> Tensor:
        rows = max(1, LowPrecisionCrossEntropy.CHUNK_ELEMENTS // logits.size(-1))
        valid = labels != IGNORE
        safe = labels.clamp(min=0)
        lse = torch.empty(logits.size(0), dtype=torch.float32, device=logits.device)
        total = torch.zeros((), dtype=torch.float32, device=logits.device)
        for i in range(0, logits.size(0), rows):
            x = logits[i : i + rows].float()
            lse[i : i + rows] = x.logsumexp(-1)
            picked = x.gather(1, safe[i : i + rows, None]).squeeze(1)
            total += ((lse[i : i + rows] - picked) * valid[i : i + rows]).sum()
        n = valid.sum().clamp(min=1)
        ctx.save_for_backward(logits, labels, lse)
        ctx.n = n
        return total / n

    @staticmethod
    def backward(ctx, grad: Tensor):
        logits, labels, lse = ctx.saved_tensors
        rows = max(1, LowPrecisionCrossEntropy.CHUNK_ELEMENTS // logits.size(-1))
        out = torch.empty_like(logits)
        scale = (grad / ctx.n).float()
        for i in range(0, logits.size(0), rows):
            lab = labels[i : i + rows]
            p = (logits[i : i + rows].float() - lse[i : i + rows, None]).exp_()
            valid = lab != IGNORE
            p[valid, lab[valid]] -= 1.0
            p *= valid[:, None] * scale
            out[i : i + rows] = p
        return out, None


def causal_token_loss(logits: Tensor, labels: Tensor) -> tuple[Tensor, int]:
    """token_loss, but bf16 logits go through LowPrecisionCrossEntropy (no fp32 copy of them)."""
    if logits.dtype != torch.bfloat16:
        return token_loss(logits, labels)
    n = int((labels != IGNORE).sum())
    flat = logits.reshape(-1, logits.size(-1))
    return LowPrecisionCrossEntropy.apply(flat, labels.reshape(-1)), n


class _OnDecoder(Defaults):
    """Decoder objectives train the core decoder as it is; a batch's `mask`, when present,
    replaces the causal mask."""

    arch = "decoder"

    def loss(self, model, batch):
        return causal_token_loss(model(batch["ids"], attn_mask=batch.get("mask")), batch["labels"])


@dataclass
class CausalLM(_OnDecoder):
    vocab: Vocab
    max_len: int = 128
    name: str = "clm"

    def batch(self, docs: list, rng: random.Random) -> dict[str, Tensor]:
        seqs = [flatten(d, self.max_len + 1) for d in docs]
        return {"ids": pad([s[:-1] for s in seqs], self.vocab.pad), "labels": pad([s[1:] for s in seqs], IGNORE)}


@dataclass
class PrefixLM(_OnDecoder):
    """Each sequence is cut at a random point: the prefix attends both ways, the rest left to right,
    and only the rest is predicted."""

    vocab: Vocab
    max_len: int = 128
    name: str = "prefix-lm"

    def batch(self, docs: list, rng: random.Random) -> dict[str, Tensor]:
        seqs = [flatten(d, self.max_len + 1) for d in docs]
        ids, labels = pad([s[:-1] for s in seqs], self.vocab.pad), pad([s[1:] for s in seqs], IGNORE)
        prefix = torch.tensor([rng.randint(1, max(1, len(s) - 2)) for s in seqs])
        T = ids.size(1)
        pos = torch.arange(T)
        labels[pos[None, :] < (prefix[:, None] - 1)] = IGNORE  # tokens inside the prefix are given, not predicted
        causal = pos[None, :, None] >= pos[None, None, :]
        mask = causal | (pos[None, None, :] < prefix[:, None, None])
        return {"ids": ids, "labels": labels, "mask": mask[:, None], "prefix": prefix}


@dataclass
class PermutedLM(_OnDecoder):
    """Predict the last 1/K of a random factorisation order (XLNet's partial prediction, K = 6)."""

    vocab: Vocab
    max_len: int = 128
    k: int = 6
    name: str = "plm"

    def batch(self, docs: list, rng: random.Random) -> dict[str, Tensor]:
        g = generator(rng)
        seqs = [flatten(d, self.max_len) for d in docs]
        ids = pad(seqs, self.vocab.pad)
        B, T = ids.shape
        order = torch.full((B, T), T, dtype=torch.long)  # padding comes last in every order
        targets = torch.zeros(B, T, dtype=torch.bool)
        for b, s in enumerate(seqs):
            n = len(s)
            order[b, :n] = torch.randperm(n, generator=g)  # order[b, i]: when position i is generated
            targets[b, :n] = order[b, :n] >= n - math.ceil(n / self.k)
        labels = torch.where(targets, ids, torch.full_like(ids, IGNORE))
        inputs = torch.where(targets, torch.full_like(ids, self.vocab.mask), ids)
        # query i sees key j when j comes earlier in the order, or j = i (its own position, and for
        # a target only the mask token)
        mask = (order[:, None, :] < order[:, :, None]) | torch.eye(T, dtype=torch.bool)[None]
        return {"ids": inputs, "labels": labels, "mask": mask[:, None], "order": order}
