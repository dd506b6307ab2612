"""Decoder (GPT) speed: tcat against Hugging Face transformers, x-transformers and a plain
nanoGPT-style model, identical dimensions, measured interleaved in one run.

  python benchmarks/bench_gpt.py [--threads 1] [--rounds 3] [--config small|gpt2] [--modes fp32,bf16,compiled]
                                 [--batches 1,8]

Training: tokens/s of one AdamW step (forward, loss, backward, update) on random tokens, median of
the rounds after an untimed warm-up round; MFU = (6 x non-embedding parameters + attention) FLOPs
per token x tokens/s over the matmul peak measured in the same run for the same dtype. Modes: fp32,
bf16 autocast (plus tcat-master: tcat's own bf16 path, bf16 weights with fp32 master weights and
the loss over bf16 logits, as its Trainer runs with --bf16), and compiled (fp32; tcat compiles each block, train/compile.py; the peers get
torch.compile of the whole model, as their users would; compile time is reported, not timed).
Generation: greedy decoding of 128 tokens after a 16-token prompt at each batch size, through
each library's KV cache (tcat's iter_tokens, HF generate, x-transformers' cached generate,
nanoGPT's hand loop), plus tcat with weight-only int8 Linears (nn/quant.py) and tcat with a static
cache and compiled decoding step (generate.py; compile time reported, not timed).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import resource
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from common import interleaved, machine, median, now, use_clock, write  # noqa: E402
from nanogpt_decoder import GPT  # noqa: E402

CONFIGS = {
    "tiny": dict(vocab=256, ctx=32, d=32, h=4, n=2, batch=2),  # the harness's own test (tests/test_benchmarks.py)
    "small": dict(vocab=8192, ctx=256, d=256, h=8, n=6, batch=16),  # 6.9M parameters
    "gpt2": dict(vocab=50257, ctx=256, d=768, h=12, n=12, batch=4),
}  # GPT-2 small, 124M


def build_peers(c: dict) -> dict:
    from transformer_catalog.families import family
    from transformer_catalog.nn import build_model

    peers = {}
    cfg = (
        family("gpt2")
        .config(
            n_layer=c["n"],
            n_embd=c["d"],
            n_head=c["h"],
            n_positions=c["ctx"],
            vocab_size=c["vocab"],
            resid_pdrop=0.0,
        )
        .replace(**{"attention.dropout": 0.0})
    )
    peers["tcat"] = build_model(cfg)
    peers["nanogpt"] = GPT(c["vocab"], c["ctx"], c["d"], c["h"], c["n"])
    try:
        import transformers

        hf_cfg = transformers.GPT2Config(
            n_layer=c["n"],
            n_embd=c["d"],
            n_head=c["h"],
            n_positions=c["ctx"],
            vocab_size=c["vocab"],
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            bos_token_id=0,
            eos_token_id=0,
        )
        hf_cfg._attn_implementation = "sdpa"
        peers["hf"] = transformers.GPT2LMHeadModel(hf_cfg)
    except ImportError:
        pass
    try:
        from x_transformers import Decoder, TransformerWrapper

        peers["x-transformers"] = TransformerWrapper(
            num_tokens=c["vocab"],
            max_seq_len=c["ctx"],
            tie_embedding=True,
            attn_layers=Decoder(dim=c["d"], depth=c["n"], heads=c["h"]),
        )
    except ImportError:
        pass
    return peers


def logits(name, model, ids):
    out = model(ids)
    return out.logits if name == "hf" else out


def matmul_peak(dtype, n=2048, iters=3, tries=5) -> float:
    """FLOP/s of an n x n matmul, the best of `tries` timings: a peak, so a try slowed by another
    process on the machine must not lower it (which would inflate every MFU)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = 0.0
    for _ in range(tries):
        t = now()
        for _ in range(iters):
            a @ b
        best = max(best, 2 * n**3 * iters / (now() - t))
    return best


class Bf16Master:
    """tcat's bf16 training path as its Trainer runs it (train/precision.py): a bf16 compute copy,
    fp32 master weights stepped by the fused AdamW, the loss over bf16 logits (objectives/causal.py)."""

    def __init__(self, model):
        from transformer_catalog.train.precision import MasterWeights

        self.mixed = MasterWeights(model)
        self.opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)

    def rate(self, c, steps) -> float:
        from transformer_catalog.objectives.causal import causal_token_loss

        ids = torch.randint(0, c["vocab"], (c["batch"], c["ctx"]))
        t = now()
        for _ in range(steps):
            loss, _ = causal_token_loss(self.mixed.compute(ids[:, :-1]), ids[:, 1:])
            loss.backward()
            self.mixed.grads_to_master()
            self.opt.step()
            self.opt.zero_grad(set_to_none=True)
            self.mixed.refresh()
        return steps * c["batch"] * (c["ctx"] - 1) / (now() - t)


def train_rate(name, model, c, dtype, steps=3) -> float:
    if isinstance(model, Bf16Master):
        return model.rate(c, steps)
    # every peer gets the fused AdamW (tcat's Trainer and Hugging Face's Trainer default to it on torch >= 2.8)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    ids = torch.randint(0, c["vocab"], (c["batch"], c["ctx"]))
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if dtype == "bf16" else contextlib.nullcontext()
    t = now()
    for _ in range(steps):
        with ctx:
            out = logits(name, model, ids[:, :-1])
            loss = F.cross_entropy(out.float().reshape(-1, c["vocab"]), ids[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return steps * c["batch"] * (c["ctx"] - 1) / (now() - t)


def compiled(name, model):
    """A compiled copy of `model` (compilation itself happens on its first call)."""
    model = copy.deepcopy(model)
    if name == "tcat":
        from transformer_catalog.train.compile import compile_blocks

        compile_blocks(model)
        return model
    return torch.compile(model)


@torch.no_grad()
def generate_rate(name, model, c, new=128, batch=1) -> float:
    from transformer_catalog.generate import iter_tokens

    model.eval()
    prompt = torch.randint(0, c["vocab"], (batch, 16))
    t = now()
    if name.startswith("tcat"):
        for _ in iter_tokens(model, prompt, new, compile=name == "tcat-compiled"):
            pass
    elif name == "hf":
        model.generate(prompt, max_new_tokens=new, min_new_tokens=new, do_sample=False, pad_token_id=0)
    elif name == "x-transformers":
        from x_transformers import AutoregressiveWrapper

        AutoregressiveWrapper(model).generate(prompt, new, cache_kv=True, temperature=0.0)
    else:
        model.generate(prompt, new)
    model.train()
    return batch * new / (now() - t)


def non_embedding_params(model) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if "embed" not in n)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--config", default="small", choices=sorted(CONFIGS))
    ap.add_argument("--modes", default="fp32,bf16,compiled")
    ap.add_argument("--batches", default="1,8", help="generation batch sizes ('none': no generation)")
    ap.add_argument("--clock", default="wall", choices=("wall", "cpu"), help="cpu: rates from process CPU time")
    ap.add_argument("--suffix", default="", help="appended to the result file's name (gpt_CONFIG_SUFFIX.json)")
    ap.add_argument("--peers", default="", help="comma-separated subset of peers (default: all)")
    ap.add_argument("--train-steps", type=int, default=3, help="training steps timed per round and peer")
    ap.add_argument("--new-tokens", type=int, default=128, help="generated tokens per sequence")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    use_clock(args.clock)
    torch.manual_seed(0)
    c = CONFIGS[args.config]
    peers = build_peers(c)
    if args.peers:
        peers = {n: m for n, m in peers.items() if n == "tcat" or n in args.peers.split(",")}
    result = {
        "config": args.config,
        "dims": c,
        "machine": machine(),
        "rounds": args.rounds,
        "clock": args.clock,
        "train_steps": args.train_steps,
        "command": "python benchmarks/bench_gpt.py " + " ".join(sys.argv[1:]),
        "params": {n: sum(p.numel() for p in m.parameters()) for n, m in peers.items()},
        "peak_gflops": {},
        "train_tokens_per_s": {},
        "mfu": {},
        "generate_tokens_per_s": {},
    }
    peaks = {}
    for mode in args.modes.split(","):
        dtype = "bf16" if mode == "bf16" else "fp32"
        if dtype not in peaks:
            peaks[dtype] = matmul_peak(torch.bfloat16 if dtype == "bf16" else torch.float32)
            result["peak_gflops"][dtype] = round(peaks[dtype] / 1e9, 1)
        models = peers
        if mode == "bf16":  # autocast for every peer, and tcat's own bf16 path beside them
            models = {**peers, "tcat-master": Bf16Master(copy.deepcopy(peers["tcat"]))}
        if mode == "compiled":
            models, result["compile_s"] = {}, {}
            for name, model in peers.items():
                t = now()
                models[name] = compiled(name, model)
                train_rate(name, models[name], c, dtype, steps=1)  # compiles forward and backward
                result["compile_s"][name] = round(now() - t, 1)
        for name, model in models.items():  # untimed warm-up round
            train_rate(name, model, c, dtype, steps=1)
        cpu = time.process_time()
        rounds = interleaved(
            {n: n for n in models}, lambda name: train_rate(name, models[name], c, dtype, args.train_steps), args.rounds
        )
        rates = {n: round(median(r), 1) for n, r in rounds.items()}
        result["train_tokens_per_s"][mode] = rates
        result.setdefault("train_rounds", {})[mode] = {n: [round(x, 1) for x in r] for n, r in rounds.items()}
        result.setdefault("train_cpu_s", {})[mode] = round(time.process_time() - cpu, 1)
        # one FLOPs-per-token figure for every peer (same dimensions): 6 per weight of the blocks and the head
        # (forward + backward), plus the attention products
        flops = 6 * (non_embedding_params(peers["tcat"]) + c["vocab"] * c["d"]) + 12 * c["n"] * c["d"] * c["ctx"]
        result["mfu"][mode] = {n: round(flops * rates[n] / peaks[dtype], 3) for n in models}
        print(mode, rates, result["mfu"][mode], flush=True)
    from transformer_catalog.nn.quant import quantize_int8

    decoders = {**peers, "tcat-int8": quantize_int8(copy.deepcopy(peers["tcat"])), "tcat-compiled": peers["tcat"]}
    for batch in () if args.batches == "none" else (int(b) for b in args.batches.split(",")):
        for name, model in decoders.items():
            t = now()
            generate_rate(name, model, c, new=8, batch=batch)  # warm-up (compiles tcat-compiled's step)
            if name == "tcat-compiled":
                result.setdefault("decode_compile_s", {})[f"batch {batch}"] = round(now() - t, 1)
        gen = interleaved(
            {n: n for n in decoders},
            lambda name: generate_rate(name, decoders[name], c, args.new_tokens, batch),
            args.rounds,
        )
        result["generate_tokens_per_s"][f"batch {batch}"] = {n: round(median(r), 1) for n, r in gen.items()}
        print("generate", batch, result["generate_tokens_per_s"][f"batch {batch}"], flush=True)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    result["cpu_s"] = round(time.process_time(), 1)
    print(write(f"gpt_{args.config}{args.suffix}", result))


if __name__ == "__main__":
    main()
