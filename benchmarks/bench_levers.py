"""Each speed lever of issue 6, measured on its own: tcat with the lever against tcat without it
(the lever switched off by patching it out here, not in the library), interleaved, median.

  python benchmarks/bench_levers.py [--threads 1] [--rounds 5]

Levers: a fused QKV projection and the in-place KV cache (batch-1 decoding of the 6.9M GPT),
per-block torch.compile (training), weight-only int8 (decoding, 6.9M and 124M), vocabulary padded
to a multiple of 64 (the 124M head's matmul), chunked cross-entropy (head + loss of a training step).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from common import interleaved, machine, median, write  # noqa: E402

from transformer_catalog.families import family  # noqa: E402
from transformer_catalog.generate import iter_tokens  # noqa: E402
from transformer_catalog.nn import build_model  # noqa: E402
from transformer_catalog.nn.attention import LayerCache, MultiHeadAttention  # noqa: E402


def gpt(n, d, h, vocab, ctx=256):
    cfg = family("gpt2").config(n_layer=n, n_embd=d, n_head=h, n_positions=ctx, vocab_size=vocab, resid_pdrop=0.0)
    torch.manual_seed(0)
    return build_model(cfg.replace(**{"attention.dropout": 0.0}))


@contextmanager
def patched(cls, name, replacement):
    original = getattr(cls, name)
    setattr(cls, name, replacement)
    try:
        yield
    finally:
        setattr(cls, name, original)


class FusedQKV(torch.nn.Module):
    """Q, K and V projections from one matmul over the stacked weights (as nanoGPT's c_attn),
    standing in for q_proj: it computes all three and hands K and V to the k/v stand-ins."""

    def __init__(self, mha):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.cat([mha.q_proj.weight, mha.k_proj.weight, mha.v_proj.weight]))
        self.bias = torch.nn.Parameter(torch.cat([mha.q_proj.bias, mha.k_proj.bias, mha.v_proj.bias]))
        self.sizes = [mha.q_proj.out_features, mha.k_proj.out_features, mha.v_proj.out_features]
        self.kv = None

    def forward(self, x):
        q, k, v = F.linear(x, self.weight, self.bias).split(self.sizes, dim=-1)
        self.kv = (k, v)
        return q


class Handed(torch.nn.Module):
    def __init__(self, fused, i):
        super().__init__()
        self.fused, self.i = [fused], i  # a list: not registered as a submodule

    def forward(self, x):
        return self.fused[0].kv[self.i]


def fuse_qkv(model):
    """A copy of `model` whose self-attention projects Q, K and V with one matmul."""
    model = copy.deepcopy(model)
    for mha in [m for m in model.modules() if isinstance(m, MultiHeadAttention)]:
        fused = FusedQKV(mha)
        mha.q_proj, mha.k_proj, mha.v_proj = fused, Handed(fused, 0), Handed(fused, 1)
    return model


def cat_append(self, k, v):  # the cache before: a new tensor per step
    old_k, old_v = self.k, self.v
    k = k if old_k is None else torch.cat([old_k, k], dim=-2)
    v = v if old_v is None else torch.cat([old_v, v], dim=-2)
    self._k, self._v, self.length = k, v, k.size(-2)
    return k, v


@torch.no_grad()
def decode_rate(model, vocab, new=128):
    model.eval()
    prompt = torch.randint(0, vocab, (1, 16))
    t = time.perf_counter()
    for _ in iter_tokens(model, prompt, new):
        pass
    return new / (time.perf_counter() - t)


def train_rate(model, vocab, batch=16, ctx=256, steps=2):
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    ids = torch.randint(0, vocab, (batch, ctx))
    t = time.perf_counter()
    for _ in range(steps):
        out = model(ids[:, :-1])
        F.cross_entropy(out.reshape(-1, vocab), ids[:, 1:].reshape(-1)).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return steps * batch * (ctx - 1) / (time.perf_counter() - t)


def chunked_ce(hidden, weight, targets, chunk=1024):
    """Head + cross-entropy over row chunks, recomputing each chunk's logits in backward, so the
    (tokens x vocab) logits never exist at once."""
    from torch.utils.checkpoint import checkpoint

    total = hidden.new_zeros(())
    for i in range(0, hidden.size(0), chunk):
        total = total + checkpoint(
            lambda h, t: F.cross_entropy(h @ weight.T, t, reduction="sum"),
            hidden[i : i + chunk],
            targets[i : i + chunk],
            use_reentrant=False,
        )
    return total / hidden.size(0)


MATMUL_OPS = (
    "aten::mm",
    "aten::addmm",
    "aten::bmm",
    "aten::_scaled_dot_product_flash_attention_for_cpu",
    "aten::_scaled_dot_product_flash_attention_for_cpu_backward",
)


def matmul_share(model) -> float:
    """Fraction of an eager training step's self CPU time spent in matmul and attention kernels: what
    no reimplementation of the same model in eager PyTorch can make faster."""
    from torch.profiler import profile

    train_rate(model, 8192, steps=1)
    with profile() as prof:
        train_rate(model, 8192, steps=1)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    return round(sum(e.self_cpu_time_total for e in events if e.key in MATMUL_OPS) / total, 3)


def compare(label, variants: dict, rounds: int, results: dict) -> None:
    for fn in variants.values():
        fn()  # warm-up
    r = interleaved({n: n for n in variants}, lambda n: variants[n](), rounds)
    med = {n: round(median(v), 2) for n, v in r.items()}
    names = list(med)
    med["ratio"] = round(med[names[0]] / med[names[1]], 3)
    results[label] = med
    print(label, med, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    res: dict = {}
    small = gpt(6, 256, 8, 8192)

    fused = fuse_qkv(small)
    compare(
        "decode 6.9M: fused QKV / three projections (tokens/s)",
        {"fused": lambda: decode_rate(fused, 8192), "three": lambda: decode_rate(small, 8192)},
        args.rounds,
        res,
    )

    def with_cat():
        with patched(LayerCache, "append", cat_append):
            return decode_rate(small, 8192)

    compare(
        "decode 6.9M: in-place KV cache / torch.cat cache (tokens/s)",
        {"in-place": lambda: decode_rate(small, 8192), "cat": with_cat},
        args.rounds,
        res,
    )

    compare(
        "train 6.9M: fused QKV / three projections (tokens/s)",
        {"fused": lambda: train_rate(fused, 8192), "three": lambda: train_rate(small, 8192)},
        args.rounds,
        res,
    )
    from transformer_catalog.nn.quant import quantize_int8

    q_small = quantize_int8(copy.deepcopy(small))
    compare(
        "decode 6.9M: int8 / fp32 weights (tokens/s)",
        {"int8": lambda: decode_rate(q_small, 8192), "fp32": lambda: decode_rate(small, 8192)},
        args.rounds,
        res,
    )
    big = gpt(12, 768, 12, 50257)
    fused_big = fuse_qkv(big)
    compare(
        "train 124M: fused QKV / three projections (tokens/s)",
        {"fused": lambda: train_rate(fused_big, 50257, batch=4), "three": lambda: train_rate(big, 50257, batch=4)},
        args.rounds,
        res,
    )
    del fused_big
    q_big = quantize_int8(copy.deepcopy(big))
    compare(
        "decode 124M: int8 / fp32 weights (tokens/s)",
        {"int8": lambda: decode_rate(q_big, 50257, 32), "fp32": lambda: decode_rate(big, 50257, 32)},
        args.rounds,
        res,
    )
    del q_big

    from transformer_catalog.train.compile import compile_blocks

    compiled = copy.deepcopy(small)
    compile_blocks(compiled)
    t = time.perf_counter()
    train_rate(compiled, 8192, steps=1)
    res["compile seconds (6.9M, first step)"] = round(time.perf_counter() - t, 1)
    compare(
        "train 6.9M: per-block compile / eager (tokens/s)",
        {"compiled": lambda: train_rate(compiled, 8192), "eager": lambda: train_rate(small, 8192)},
        args.rounds,
        res,
    )

    x = torch.randn(4 * 255, 768)
    w, w_pad = torch.randn(50257, 768), torch.randn(50304, 768)

    def head(weight):
        t = time.perf_counter()
        for _ in range(3):
            x @ weight.T
        return 3 * x.size(0) / (time.perf_counter() - t)

    compare(
        "124M head matmul: vocab 50,304 (padded) / 50,257 (rows/s)",
        {"padded": lambda: head(w_pad), "unpadded": lambda: head(w)},
        args.rounds,
        res,
    )

    hidden = torch.randn(16 * 255, 256, requires_grad=True)
    emb = torch.randn(8192, 256, requires_grad=True)
    targets = torch.randint(0, 8192, (16 * 255,))

    def loss_rate(fn):
        t = time.perf_counter()
        fn(hidden, emb, targets).backward()
        return hidden.size(0) / (time.perf_counter() - t)

    compare(
        "6.9M head + loss, forward and backward: chunked / whole (tokens/s)",
        {
            "chunked": lambda: loss_rate(chunked_ce),
            "whole": lambda: loss_rate(lambda h, w_, t: F.cross_entropy(h @ w_.T, t)),
        },
        args.rounds,
        res,
    )
    res["6.9M training step: share of time in matmuls + attention kernels"] = matmul_share(small)
    out = {
        "benchmark": "levers",
        "machine": machine(),
        "rounds": args.rounds,
        "results": res,
        "command": "python benchmarks/bench_levers.py " + " ".join(sys.argv[1:]),
    }
    print(write("levers", out))


if __name__ == "__main__":
    main()
