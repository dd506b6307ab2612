"""Multi-head latent attention at decoding time (issue 20): one new token against a cache of N tokens,
one layer shaped like DeepSeek-V2-Lite's (16 heads, q/k head 192 = 128 + 64 rotated, values 128,
latent 512 + 64), computed the reference way (every head's keys and values rebuilt from the cached
latent: the up-projection costs N x 512 x 16 x 256 multiply-adds per step) and the way tcat decodes
(nn/mla.py's absorption: queries moved into the latent space). CPU time per step, one thread,
interleaved rounds, median; the cache bytes per token beside it (16-bit). Writes results/mla.json.

    OMP_NUM_THREADS=1 python benchmarks/bench_mla.py [--rounds 5] [--contexts 512,2048,8192]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, median, write  # noqa: E402

from transformer_catalog.nn.attention import attend  # noqa: E402
from transformer_catalog.nn.config import ModelConfig  # noqa: E402
from transformer_catalog.nn.mla import LatentAttention  # noqa: E402

HEADS, HEAD, ROPE, VALUE, RANK = 16, 192, 64, 128, 512


def layer() -> LatentAttention:
    cfg = ModelConfig.from_dict(
        {
            "arch": "decoder",
            "d_model": 2048,
            "n_encoder_layers": 0,
            "n_decoder_layers": 1,
            "dropout": 0.0,
            "attention": {
                "n_heads": HEADS,
                "head_dim": HEAD,
                "qkv_bias": False,
                "out_bias": False,
                "latent": {"kv_rank": RANK, "q_rank": 0, "rope_dim": ROPE, "v_head_dim": VALUE},
            },
            "position": {"kind": "rope", "max_len": 65536},
            "norm": {"kind": "rmsnorm", "bias": False, "placement": "pre", "final": True},
            "ffn": {"d_ff": 64, "activation": "silu", "gated": True, "bias": False},
            "embedding": {"vocab_size": 100, "scale": False, "tie_output": False},
        }
    )
    m = LatentAttention(cfg).eval()
    for p in m.parameters():
        torch.nn.init.normal_(p, std=0.02)
    return m


def cpu_ms(fn, iters: int) -> float:
    fn()  # warm-up
    t = time.process_time()
    for _ in range(iters):
        fn()
    return (time.process_time() - t) / iters * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--contexts", default="512,2048,8192")
    args = ap.parse_args()
    torch.manual_seed(0)
    m = layer()
    rows = []
    with torch.no_grad():
        for n in (int(c) for c in args.contexts.split(",")):
            latent, k_rope, q = torch.randn(1, 1, n, RANK), torch.randn(1, 1, n, ROPE), torch.randn(1, HEADS, 1, HEAD)

            def expanded():
                k, v = m.keys_values(latent, k_rope)
                return attend(q, k, v, None, True)

            def absorbed():
                return m._absorbed(q, latent, k_rope, None, True, 0.0)

            diff = (expanded() - absorbed()).abs().max().item()
            times = {"expanded": [], "absorbed": []}
            for _ in range(args.rounds):
                for name, fn in (("expanded", expanded), ("absorbed", absorbed)):
                    times[name].append(cpu_ms(fn, args.iters))
            rows.append(
                {
                    "context": n,
                    "expanded_ms": median(times["expanded"]),
                    "absorbed_ms": median(times["absorbed"]),
                    "spread_ms": {k: [min(v), max(v)] for k, v in times.items()},
                    "max_abs_diff": diff,
                }
            )
            print(rows[-1], flush=True)
    write(
        "mla",
        {
            "command": "OMP_NUM_THREADS=1 python benchmarks/bench_mla.py " + " ".join(sys.argv[1:]),
            "machine": machine(),
            "shape": {"heads": HEADS, "head_dim": HEAD, "rope_dim": ROPE, "v_head_dim": VALUE, "kv_rank": RANK},
            "cache_bytes_per_token_layer": {"latent": 2 * (RANK + ROPE), "mha_same_heads": 2 * HEADS * (HEAD + VALUE)},
            "rows": rows,
            "cpu_seconds": time.process_time(),
        },
    )


if __name__ == "__main__":
    main()
