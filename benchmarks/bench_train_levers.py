"""Issue 21's training levers, each measured on its own: tcat's GPT training step with the lever
against the same step without it, interleaved rounds, median and spread (the machine is shared, so
one round proves nothing), CPU seconds recorded.

  python benchmarks/bench_train_levers.py [--threads 1] [--rounds 5] [--config small] [--steps 2]

The step is bench_gpt.py's: forward, cross-entropy, backward, fused AdamW, random tokens, dropout
off. Levers (patched in here, not in the library, unless the library has them):

  fused residual + LayerNorm   the residual add and the LayerNorm after it as one compiled kernel
                               (inductor), instead of two eager passes over the activations
  fused head + cross-entropy   the head's matmul, softmax, loss and both gradients a chunk of rows at
                               a time, gradients computed in forward (Liger-kernel style): the
                               (tokens x vocab) logits never exist whole, nothing is recomputed
  compiled blocks + optimizer  tcat's per-block torch.compile (train/compile.py) plus the AdamW
                               step compiled (foreach), against eager blocks and the fused AdamW
  bf16 master / autocast       tcat's bf16 path (train/precision.py) against bf16 autocast
  bf16 master / fp32           the same path against plain fp32 training
  bf16 loss                    the loss over bf16 logits (objectives/causal.py) against
                               F.cross_entropy(logits.float()), both on the bf16 path
  math attention               on the bf16 path, SDPA's math backend against its CPU flash kernel
  bf16 compiled blocks         on the bf16 path, per-block torch.compile against eager blocks
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from bench_gpt import CONFIGS, build_peers, matmul_peak  # noqa: E402
from common import interleaved, machine, median, now, use_clock, write  # noqa: E402

from transformer_catalog.nn.blocks import Block  # noqa: E402
from transformer_catalog.objectives.causal import causal_token_loss  # noqa: E402
from transformer_catalog.train.precision import MasterWeights  # noqa: E402


class FusedHeadCrossEntropy(torch.autograd.Function):
    """Mean cross-entropy of hidden @ weight.T against targets, a chunk of rows at a time; the
    gradients for hidden and weight are computed in forward and only scaled in backward."""

    @staticmethod
    def forward(ctx, hidden, weight, targets, rows):
        n = hidden.size(0)
        grad_h = torch.empty_like(hidden)
        grad_w = torch.zeros(weight.shape, dtype=torch.float32)
        total = torch.zeros((), dtype=torch.float32)
        for i in range(0, n, rows):
            h, t = hidden[i : i + rows], targets[i : i + rows]
            logits = (h @ weight.T).float()
            lse = logits.logsumexp(-1)
            total += (lse - logits.gather(1, t[:, None]).squeeze(1)).sum()
            p = (logits - lse[:, None]).exp_()
            p[torch.arange(len(t)), t] -= 1.0
            p = (p / n).to(hidden.dtype)
            grad_h[i : i + rows] = p @ weight
            grad_w.addmm_(p.T.float(), h.float()) if hidden.dtype != torch.float32 else grad_w.addmm_(p.T, h)
        ctx.save_for_backward(grad_h, grad_w.to(weight.dtype))
        return total / n

    @staticmethod
    def backward(ctx, grad):
        grad_h, grad_w = ctx.saved_tensors
        return grad_h * grad.to(grad_h.dtype), grad_w * grad.to(grad_w.dtype), None, None


def fused_head_ce(model, ids, rows=1024):
    """The step's loss with the model's head replaced by the fused head + cross-entropy."""
    hidden = model.decoder(model.embed(ids[:, :-1], 0), causal=True)
    d = hidden.size(-1)
    return FusedHeadCrossEntropy.apply(hidden.reshape(-1, d), model.head.weight, ids[:, 1:].reshape(-1), rows)


_add_norm = None


def fused_block_forward(self, x, mask=None, causal=False, positions=None, **_):
    """A pre-norm block whose residual add after attention and the LayerNorm before the
    feed-forward run as one compiled kernel (returns the sum and its normalisation)."""
    global _add_norm
    if _add_norm is None:

        def add_norm(x, y, w, b, eps: float):
            s = x + y
            return s, F.layer_norm(s, (s.size(-1),), w, b, eps)

        _add_norm = torch.compile(add_norm, dynamic=False)
    a = self.self_attn(self.self_attn_norm(x), mask=mask, causal=causal, positions=positions)
    norm = self.ffn_norm
    x, n = _add_norm(x, a, norm.weight, norm.bias, norm.eps)
    return x + self.ffn(n)


class Step:
    """One way of running the training step: `loss(model, ids)` and the optimizer around it."""

    def __init__(
        self,
        model,
        c,
        *,
        loss=None,
        autocast=False,
        compiled_opt=False,
        master=False,
        float_loss=False,
        compile=False,
        math_attention=False,
    ):
        self.c, self.autocast, self.math_attention = c, autocast, math_attention
        self.mixed = MasterWeights(model) if master else None
        self.model = model if self.mixed is None else self.mixed.compute
        if compile:
            from transformer_catalog.train.compile import compile_blocks

            compile_blocks(self.model)
        params = model.parameters()
        if compiled_opt:
            self.opt = torch.optim.AdamW(params, lr=1e-4, foreach=True)
            self.opt_step = torch.compile(self.opt.step, fullgraph=False)
        else:
            self.opt = torch.optim.AdamW(params, lr=1e-4, fused=True)
            self.opt_step = self.opt.step
        if loss is None:
            if float_loss:

                def loss(m, ids):
                    out = m(ids[:, :-1]).float()
                    return F.cross_entropy(out.reshape(-1, out.size(-1)), ids[:, 1:].reshape(-1))
            else:

                def loss(m, ids):
                    return causal_token_loss(m(ids[:, :-1]), ids[:, 1:])[0]

        self.loss = loss

    def rate(self, steps) -> float:
        c = self.c
        ids = torch.randint(0, c["vocab"], (c["batch"], c["ctx"]))
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if self.autocast else nullcontext()
        kernel = nullcontext()
        if self.math_attention:  # SDPA's reference math (matmul, softmax, matmul) instead of its flash kernel
            from torch.nn.attention import SDPBackend, sdpa_kernel

            kernel = sdpa_kernel(SDPBackend.MATH)
        t = now()
        for _ in range(steps):
            with ctx, kernel:
                loss = self.loss(self.model, ids)
            loss.backward()
            if self.mixed is not None:
                self.mixed.grads_to_master()
            self.opt_step()
            self.opt.zero_grad(set_to_none=True)
            if self.mixed is not None:
                self.mixed.refresh()
        return steps * c["batch"] * (c["ctx"] - 1) / (now() - t)


def compare(label, variants: dict, rounds: int, steps: int, results: dict) -> None:
    """Warm up each variant (compiling where it compiles; that time is recorded), then interleaved
    rounds; median, min and max of each and the ratio of the medians (first / second)."""
    warm = {}
    for name, step in variants.items():
        t = now()
        step.rate(1)
        warm[name] = round(now() - t, 1)
    cpu = time.process_time()
    r = interleaved({n: n for n in variants}, lambda n: variants[n].rate(steps), rounds)
    a, b = list(variants)
    row = {
        "with": a,
        "without": b,
        "median": {n: round(median(v), 1) for n, v in r.items()},
        "spread": {n: [round(min(v), 1), round(max(v), 1)] for n, v in r.items()},
        "rounds": {n: [round(x, 1) for x in v] for n, v in r.items()},
        "ratio": round(median(r[a]) / median(r[b]), 3),
        # per round: the two variants ran back to back, so their ratio cancels the machine's drift
        "round_ratios": [round(x / y, 3) for x, y in zip(r[a], r[b], strict=True)],
        "warmup_s": warm,
        "cpu_s": round(time.process_time() - cpu, 1),
    }
    row["round_ratio_median"] = round(statistics.median(row["round_ratios"]), 3)
    results[label] = row
    print(label, row["median"], "ratio", row["ratio"], "per round", row["round_ratios"], flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--config", default="small", choices=sorted(CONFIGS))
    ap.add_argument("--steps", type=int, default=2, help="training steps timed per round and variant")
    ap.add_argument(
        "--only",
        default="",
        help="comma-separated lever keys: " + "addnorm,headce,compile,bf16,bf16loss,sdpa,bf16compile",
    )
    ap.add_argument("--suffix", default="", help="appended to the result file's name")
    ap.add_argument("--clock", default="cpu", choices=("wall", "cpu"), help="cpu (default): rates from CPU time")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    use_clock(args.clock)
    c = CONFIGS[args.config]
    torch.manual_seed(0)
    base = build_peers(c)["tcat"]
    every = {"bf16", "bf16loss", "sdpa", "headce", "addnorm", "compile", "bf16compile"}
    only = set(args.only.split(",")) if args.only else every
    res: dict = {}

    def fresh():
        return copy.deepcopy(base)

    start = time.process_time()
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    if "addnorm" in only:
        fused = fresh()
        for block in (m for m in fused.modules() if isinstance(m, Block)):
            block.forward = fused_block_forward.__get__(block)
        compare(
            "fp32: fused residual + LayerNorm / eager",
            {"fused": Step(fused, c), "eager": Step(fresh(), c)},
            args.rounds,
            args.steps,
            res,
        )
    if "headce" in only:
        compare(
            "fp32: fused head + cross-entropy / head, then cross-entropy",
            {"fused": Step(fresh(), c, loss=fused_head_ce), "separate": Step(fresh(), c)},
            args.rounds,
            args.steps,
            res,
        )
    if "compile" in only:
        from transformer_catalog.train.compile import compile_blocks

        compiled = fresh()
        compile_blocks(compiled)
        compare(
            "fp32: compiled blocks + compiled AdamW step / eager + fused AdamW",
            {"compiled": Step(compiled, c, compiled_opt=True), "eager": Step(fresh(), c)},
            args.rounds,
            args.steps,
            res,
        )
    if "bf16" in only:
        compare(
            "bf16 master weights / bf16 autocast",
            {"master": Step(fresh(), c, master=True), "autocast": Step(fresh(), c, autocast=True, float_loss=True)},
            args.rounds,
            args.steps,
            res,
        )
        compare(
            "bf16 master weights / fp32",
            {"master": Step(fresh(), c, master=True), "fp32": Step(fresh(), c)},
            args.rounds,
            args.steps,
            res,
        )
    if "bf16loss" in only:
        compare(
            "bf16 path: loss over bf16 logits / F.cross_entropy(logits.float())",
            {"bf16 loss": Step(fresh(), c, master=True), "fp32 loss": Step(fresh(), c, master=True, float_loss=True)},
            args.rounds,
            args.steps,
            res,
        )
    if "sdpa" in only:
        compare(
            "bf16 path: SDPA math attention / SDPA flash kernel",
            {"math": Step(fresh(), c, master=True, math_attention=True), "flash": Step(fresh(), c, master=True)},
            args.rounds,
            args.steps,
            res,
        )
    if "bf16compile" in only:
        compare(
            "bf16 path: compiled blocks / eager blocks",
            {"compiled": Step(fresh(), c, master=True, compile=True), "eager": Step(fresh(), c, master=True)},
            args.rounds,
            args.steps,
            res,
        )
    out = {
        "benchmark": "train levers",
        "config": args.config,
        "dims": c,
        "machine": machine(),
        "rounds": args.rounds,
        "steps_per_round": args.steps,
        "clock": args.clock,
        "peak_gflops": {k: round(v / 1e9, 1) for k, v in peaks.items()},
        "results": res,
        "cpu_s": round(time.process_time() - start, 1),
        "command": "python benchmarks/bench_train_levers.py " + " ".join(sys.argv[1:]),
    }
    print(write(f"train_levers_{args.config}{args.suffix}", out))


if __name__ == "__main__":
    main()
