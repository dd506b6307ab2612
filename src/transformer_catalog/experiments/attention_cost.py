"""What attention costs as the sequence grows: peak memory and time of one causal attention call (forward and
backward) per implementation, per-token decoding time per sequence mixer, and a layer's training time per mixer.
benchmarks/bench_attention.py sweeps these; `tcat attention cost|decode` measures one point.

Peak memory is measured in a forked child: it resets the kernel's high-water mark of its resident set
(/proc/self/clear_refs), runs the call once and reads VmHWM; the extra memory is that peak minus the resident
set just before (inputs already allocated). Large tensors are mmapped by the allocator and returned on free,
so the number is what the call itself touched. Time is the median of `reps` calls after one warm-up, with the
CPU seconds beside it (the machine is shared).

Kinds (one head of width d, batch 1, causal unless said):
  eager         the paper's formula: the (T x T) scores, masked, softmaxed, kept for the backward
  sdpa          PyTorch's fused CPU kernel (torch.nn.functional.scaled_dot_product_attention, is_causal)
  tiled         nn/tiled.py: blocks with an online softmax, backward by recomputation
  window-sdpa   sliding-window attention as the core runs it with SDPA: a dense (T x T) boolean mask
  window-tiled  the same window inside tiled attention: key blocks outside the window are skipped
  block-sparse  BigBird's pattern (nn/sparse.py) as the core runs it: a dense mask, bidirectional, SDPA
"""

from __future__ import annotations

import os
import statistics
import time

from ..errors import TcatError

KINDS = ("eager", "sdpa", "tiled", "window-sdpa", "window-tiled", "block-sparse")
MIXERS = ("attention", "linear", "hyena")
FLOAT = 4  # bytes, fp32


def estimate_bytes(kind: str, length: int, d: int = 64, heads: int = 1) -> int:
    """A generous upper estimate of what one forward + backward call needs, to refuse before allocating."""
    vectors = 12 * heads * length * d * FLOAT  # q, k, v, output and their gradients, with slack
    square = heads * length * length
    per_kind = {
        "eager": 5 * FLOAT * square,  # scores, masked scores, weights, their gradients
        "sdpa": 0,
        "tiled": 0,
        "window-sdpa": 4 * FLOAT * square,  # the boolean mask and the float scores SDPA's math path makes of it
        "window-tiled": 0,
        "block-sparse": 4 * FLOAT * square,
    }
    return vectors + per_kind[kind]


def check_fits(kind: str, length: int, d: int = 64, heads: int = 1) -> None:
    """Refuse a length whose estimated memory exceeds what is free now."""
    from ..runtime import available_memory

    need, free = estimate_bytes(kind, length, d, heads), available_memory()
    if free is not None and need > free:
        raise TcatError(
            f"{kind} attention at length {length:,} needs about {need / 2**30:,.1f} GiB but "
            f"{free / 2**30:,.1f} GiB of memory is free; use a shorter --length or --kind tiled"
        )


def check_call(kind: str, length: int, d: int = 64, block: int = 256) -> None:
    """Refuse, before allocating anything, an unknown kind, a block size that does not fit the length and a
    length whose estimated memory is not free."""
    from ..nn.tiled import check_blocks

    if kind not in KINDS:
        raise TcatError(f"unknown attention kind {kind!r}; known: {', '.join(KINDS)}")
    if kind in ("tiled", "window-tiled", "block-sparse"):
        check_blocks(length, block)
    check_fits(kind, length, d)


def attention_call(kind: str, length: int, d: int = 64, block: int = 256, window: int = 256, seed: int = 0):
    """A function that runs forward + backward of one attention call on fixed random inputs."""
    import torch
    import torch.nn.functional as F

    from ..nn.attention import attend
    from ..nn.config import BlockSparseConfig
    from ..nn.sparse import block_sparse_mask
    from ..nn.tiled import tiled_attention

    check_call(kind, length, d, block)
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(1, 1, length, d, generator=g).requires_grad_() for _ in range(3))
    grad = torch.randn(1, 1, length, d, generator=g)
    mask = None
    if kind == "block-sparse":
        sparse = BlockSparseConfig(block_size=block)
        mask = block_sparse_mask(length, sparse, 1, 0)

    def run():
        if kind == "eager":
            y = attend(q, k, v, causal=True, backend="eager")
        elif kind == "sdpa":
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        elif kind == "tiled":
            y = tiled_attention(q, k, v, causal=True, block_q=block, block_k=block)
        elif kind == "window-sdpa":
            y = attend(q, k, v, causal=True, backend="sdpa", window=window)
        elif kind == "window-tiled":
            y = tiled_attention(q, k, v, causal=True, window=window, block_q=block, block_k=block)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        y.backward(grad)
        q.grad = k.grad = v.grad = None

    return run


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def _measure_here(make, reps: int) -> dict:
    """In this process: build, then the peak of one call above the resident set before it, then times."""
    import torch

    torch.set_num_threads(1)
    fn = make()
    before = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current resident set
    fn()
    peak = _status("VmHWM") - before
    times, cpus = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return {"extra_mib": peak / 2**20, "seconds": statistics.median(times), "cpu_seconds": statistics.median(cpus)}


def measure(make, reps: int = 3, warm=None) -> dict:
    """{extra_mib, seconds, cpu_seconds} of the call `make()` returns, in a forked child (a fresh high-water
    mark; the child inherits the parent's allocator, so call this from a process with a small heap, as the CLI
    and the benchmark do, not from a long-lived one that freed large blocks). `warm()`, a small call of the
    same code, runs here first: the libraries' code pages and lazy initialisation it touches are then
    resident before the fork and not counted as the measured call's memory."""
    import multiprocessing as mp

    if warm is not None:
        warm()

    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(make, reps, child))
    proc.start()
    child.close()
    try:
        result = parent.recv()
    except EOFError:
        result = {"error": "the measuring process died (out of memory?)"}
    proc.join()
    if "error" in result:
        raise TcatError(f"measurement failed: {result['error']}")
    return result


def _child(make, reps, conn) -> None:
    try:
        conn.send(_measure_here(make, reps))
    except TcatError as e:
        conn.send({"error": str(e)})
    finally:
        conn.close()
        os._exit(0)  # no atexit handlers of the parent's state in the fork


# -- decoding: per-token time at a given context ----------------------------------------------------------
def decoder_config(mixer: str, d_model: int = 64, heads: int = 1, layers: int = 2, max_len: int = 32768 + 64):
    from .recall import small_decoder

    return small_decoder(mixer, d_model, heads, layers, max_len, vocab=256, d_ff=4 * d_model, tie=True)


def decode_step(mixer: str, context: int, seed: int = 0):
    """A function decoding one token after `context` cached tokens. The cache is filled with random keys and
    values (attention) or a random state (linear): the cost of a step does not depend on their values, and a
    32K-token prefill through the model would cost minutes."""
    import torch

    if mixer == "hyena":
        raise TcatError("a Hyena mixer keeps no KV cache or state to decode from: it recomputes the whole prefix")
    if mixer not in MIXERS:
        raise TcatError(f"unknown mixer {mixer!r}; known: {', '.join(MIXERS)}")
    cfg = decoder_config(mixer)
    if context + 1 > cfg.position.max_len:
        raise TcatError(f"context {context:,} is longer than the benchmark model's {cfg.position.max_len - 1:,}")
    torch.manual_seed(seed)
    from ..nn import build_model

    model = build_model(cfg).eval()
    cache = model.new_cache()
    hd = cfg.head_dim
    for layer in cache.layers:
        if mixer == "attention":
            layer.append(torch.randn(1, cfg.n_kv_heads, context, hd), torch.randn(1, cfg.n_kv_heads, context, hd))
        else:
            layer.state = torch.rand(1, cfg.attention.n_heads, hd, hd + 1) * context
            layer.length = context
    ids = torch.tensor([[7]])

    def step():
        with torch.no_grad():
            model(ids, cache)
        for layer in cache.layers:  # back to `context`: every timed step sees the same cache
            layer.length = context

    return step


# -- a mixer layer's training step at length T -------------------------------------------------------------
def mixer_layer_call(mixer: str, length: int, d_model: int = 128, heads: int = 2, seed: int = 0):
    """Forward + backward of one mixer sublayer (no FFN, no norm) at batch 1: attention (SDPA, causal),
    linear (chunked) or Hyena (FFT)."""
    import torch

    from ..nn.blocks import Block

    cfg = decoder_config(mixer, d_model, heads, 1, max_len=max(length, 64))
    check_fits("sdpa", length, d_model // heads, heads)
    torch.manual_seed(seed)
    layer = Block(cfg, layer=0).self_attn
    x = torch.randn(1, length, d_model, requires_grad=True)

    def run():
        y = layer(x, causal=True)
        y.square().mean().backward()
        x.grad = None
        layer.zero_grad(set_to_none=True)

    return run


__all__ = [
    "KINDS",
    "MIXERS",
    "attention_call",
    "check_call",
    "check_fits",
    "decode_step",
    "decoder_config",
    "estimate_bytes",
    "measure",
    "mixer_layer_call",
]
