"""The GPU path, checked (issue 21 item 4): on a CUDA machine, in a few minutes,

  1. parity on CUDA: SDPA's flash and memory-efficient kernels (each forced alone) against the
     eager reference (fp32 formula), causal and with a padding mask; whole models (encoder,
     decoder, encoder-decoder) with backend sdpa against eager;
  2. one bf16-autocast training step of the small GPT with torch.compile: finite loss, equal to the
     uncompiled step's within bf16 noise, and the weights move;
  3. the decoder training benchmark against Hugging Face GPT-2 (same dimensions, bf16 autocast,
     tokens/s, interleaved), with the GPU named.

  python scripts/gpu_check.py [--config small] [--steps 10] [--json runs/gpu_check.json]

Without CUDA it prints one line and exits 0 (what tests/test_gpu_check.py holds). Exit 1 when a
check fails, with the failures listed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def choose_device(cuda_available: bool | None = None) -> str | None:
    """'cuda' where a CUDA device is usable, else None (skip). The argument is for tests."""
    if cuda_available is None:
        import torch

        cuda_available = torch.cuda.is_available()
    return "cuda" if cuda_available else None


def skip_line() -> str:
    import torch

    return f"gpu-check: skipped, no CUDA device (torch {torch.__version__}, built with CUDA {torch.version.cuda})"


def tolerance(dtype) -> float:
    """Max |difference| allowed against the fp32 eager reference: bf16 keeps ~3 significant digits."""
    import torch

    return {torch.float32: 1e-4, torch.float16: 5e-3, torch.bfloat16: 3e-2}[dtype]


def check_kernels(device: str, kernels=("FLASH_ATTENTION", "EFFICIENT_ATTENTION"), dtypes=("bfloat16", "float16")):
    """Each fused SDPA kernel alone against the eager formula (fp32) on the same inputs: a list of
    {check, max_abs_diff, ok}. A kernel that cannot run these inputs raises (a failure, not a skip)."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from transformer_catalog.nn import attend, padding_mask

    rows = []
    torch.manual_seed(0)
    for kernel in (getattr(SDPBackend, k) for k in kernels):
        for dtype in (getattr(torch, d) for d in dtypes):
            for masked in (False, True):
                if masked and kernel == SDPBackend.FLASH_ATTENTION:
                    continue  # flash takes no mask: SDPA would refuse, not fall back, under sdpa_kernel
                q, k, v = (torch.randn(2, 4, 64, 64, device=device) for _ in range(3))
                mask = None
                if masked:
                    keep = torch.ones(2, 64, dtype=torch.bool, device=device)
                    keep[1, -7:] = False
                    mask = padding_mask(keep)
                ref = attend(q, k, v, mask, causal=not masked, backend="eager")
                with sdpa_kernel([kernel]):
                    got = attend(q.to(dtype), k.to(dtype), v.to(dtype), mask, causal=not masked, backend="sdpa")
                diff = (got.float() - ref).abs().max().item()
                what = "padding mask" if masked else "causal"
                rows.append(
                    {
                        "check": f"sdpa {kernel.name.lower()} {str(dtype)[6:]} {what}",
                        "max_abs_diff": diff,
                        "ok": diff < tolerance(dtype),
                    }
                )
    return rows


def check_models(device: str) -> list[dict]:
    """tests/test_attention.py's model parity, on the device."""
    import torch

    from transformer_catalog.nn import AttentionConfig, ModelConfig, build_model

    rows = []
    for arch in ("encoder", "decoder", "encoder-decoder"):
        cfg = ModelConfig(
            arch=arch,
            d_model=64,
            n_encoder_layers=2,
            n_decoder_layers=2,
            dropout=0.0,
            attention=AttentionConfig(n_heads=4, backend="sdpa"),
        )
        cfg.embedding.vocab_size = 100
        torch.manual_seed(0)
        sdpa = build_model(cfg).to(device).eval()
        eager = build_model(cfg.replace(**{"attention.backend": "eager"})).to(device).eval()
        eager.load_state_dict(sdpa.state_dict())
        src = torch.randint(1, 100, (2, 17), device=device)
        src[0, -5:] = 0  # padding
        tgt = torch.randint(1, 100, (2, 9), device=device)
        args = (src, tgt) if arch == "encoder-decoder" else (src,)
        with torch.no_grad():
            diff = (sdpa(*args) - eager(*args)).abs().max().item()
        rows.append({"check": f"model {arch} sdpa vs eager fp32", "max_abs_diff": diff, "ok": diff < 1e-4})
    return rows


def _peers(config: str):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_gpt import CONFIGS, build_peers

    return CONFIGS[config], build_peers


def _step(model, ids, vocab, opt, logits) -> float:
    import torch
    import torch.nn.functional as F

    with torch.autocast(ids.device.type, dtype=torch.bfloat16):
        out = logits(model, ids[:, :-1])
        loss = F.cross_entropy(out.float().reshape(-1, vocab), ids[:, 1:].reshape(-1))
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss.item()


def check_compiled_step(device: str, config: str) -> list[dict]:
    """One bf16 step, compiled and eager from the same weights: same loss within bf16 noise."""
    import copy

    import torch

    from transformer_catalog.train.compile import compile_blocks

    c, build_peers = _peers(config)
    torch.manual_seed(0)
    eager = build_peers(c)["tcat"].to(device).train()
    comp = copy.deepcopy(eager)
    compile_blocks(comp)
    ids = torch.randint(0, c["vocab"], (c["batch"], c["ctx"]), device=device)
    before = [p.detach().clone() for p in comp.parameters()]
    losses = {}
    for name, model in (("eager", eager), ("compiled", comp)):
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
        losses[name] = _step(model, ids, c["vocab"], opt, lambda m, x: m(x))
    moved = any(not torch.equal(a, b.detach()) for a, b in zip(before, comp.parameters()))
    gap = abs(losses["compiled"] - losses["eager"])
    ok = gap < 2e-2 * abs(losses["eager"]) and moved and all(math.isfinite(x) for x in losses.values())
    return [{"check": "bf16 training step, torch.compile vs eager", **losses, "ok": ok}]


def bench_decoder(device: str, config: str, steps: int) -> dict:
    """Training tokens/s, bf16 autocast, tcat vs Hugging Face GPT-2 (and the nanoGPT-style model)."""
    import torch

    c, build_peers = _peers(config)
    torch.manual_seed(0)
    peers = {n: m.to(device).train() for n, m in build_peers(c).items() if n in ("tcat", "hf", "nanogpt")}
    opts = {n: torch.optim.AdamW(m.parameters(), lr=1e-4, fused=True) for n, m in peers.items()}
    ids = torch.randint(0, c["vocab"], (c["batch"], c["ctx"]), device=device)

    def logits(name):
        return lambda m, x: m(x).logits if name == "hf" else m(x)

    for name, model in peers.items():  # warm-up: kernel selection and allocator
        for _ in range(3):
            _step(model, ids, c["vocab"], opts[name], logits(name))
    rates: dict[str, list[float]] = {n: [] for n in peers}
    for _ in range(3):  # rounds, peers interleaved
        for name, model in peers.items():
            torch.cuda.synchronize()
            t = time.perf_counter()
            for _ in range(steps):
                _step(model, ids, c["vocab"], opts[name], logits(name))
            torch.cuda.synchronize()
            rates[name].append(steps * c["batch"] * (c["ctx"] - 1) / (time.perf_counter() - t))
    median = {n: sorted(r)[1] for n, r in rates.items()}
    return {
        "config": config,
        "train_bf16_tokens_per_s": {n: round(r) for n, r in median.items()},
        "ratio_to_hf": round(median["tcat"] / median["hf"], 3) if "hf" in median else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="small", choices=("tiny", "small", "gpt2"))
    ap.add_argument("--steps", type=int, default=10, help="timed training steps per peer per round")
    ap.add_argument("--json", default="", help="also write the result here")
    args = ap.parse_args(argv)
    device = choose_device()
    if device is None:
        print(skip_line())
        return 0
    import torch

    started = time.perf_counter()
    rows = check_kernels(device) + check_models(device) + check_compiled_step(device, args.config)
    for row in rows:
        print(("ok  " if row["ok"] else "FAIL"), json.dumps(row), flush=True)
    result = {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "checks": rows,
        "benchmark": bench_decoder(device, args.config, args.steps),
    }
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result["benchmark"]))
    print(f"gpu-check on {result['gpu']}: {sum(r['ok'] for r in rows)}/{len(rows)} checks ok, {result['seconds']} s")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
