"""Where a training step's time goes: torch.profiler over tcat's GPT training step (the one
benchmarks/bench_gpt.py times: forward, cross-entropy, backward, fused AdamW), fp32, bf16
autocast and bf16-master (tcat's bf16 path: bf16 compute copy, fp32 master weights), self CPU
time grouped into matmul / attention / casts / elementwise / normalisation / loss / optimizer /
other, with the top ops.

  python scripts/profile_step.py [--config small] [--threads 1] [--steps 2] [--modes fp32,bf16,bf16-master]

Prints a table per mode (share of the step's self CPU time) and the ISA of the CPU, since bf16's
cost depends on it (AMX tiles, avx512_bf16 dot products, or emulation).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# an op's group by its name (the first pattern that the aten name contains wins)
GROUPS = (
    ("casts", ("_foreach_copy",)),  # the bf16 path's refresh of its compute copy from the master weights
    ("optimizer", ("adam", "_foreach")),
    ("loss", ("cross_entropy", "log_softmax", "nll_loss", "_softmax_backward_data")),
    ("attention", ("scaled_dot_product", "flash_attention", "_efficient_attention")),
    ("matmul", ("addmm", "::mm", "bmm", "matmul", "linear")),
    ("casts", ("_to_copy", "::to", "copy_", "_autocast")),
    ("normalisation", ("layer_norm",)),
    ("embedding", ("embedding",)),
    ("elementwise", ("add", "mul", "gelu", "div", "sub", "tanh", "pow", "fill_", "zero_", "where", "dropout", "sum")),
)


def group(name: str) -> str:
    for label, keys in GROUPS:
        if any(k in name for k in keys):
            return label
    return "other"


def profile(mode: str, config: str, steps: int, top: int) -> dict:
    import torch
    import torch.nn.functional as F
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_gpt import CONFIGS, build_peers

    c = CONFIGS[config]
    torch.manual_seed(0)
    model = build_peers(c)["tcat"].train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    ids = torch.randint(0, c["vocab"], (c["batch"], c["ctx"]))
    if mode == "bf16-master":  # tcat's bf16 path, as its Trainer runs it (train/precision.py)
        from transformer_catalog.objectives.causal import causal_token_loss
        from transformer_catalog.train.precision import MasterWeights

        mixed = MasterWeights(model)

    def step():
        if mode == "bf16-master":
            loss, _ = causal_token_loss(mixed.compute(ids[:, :-1]), ids[:, 1:])
            loss.backward()
            mixed.grads_to_master()
            opt.step()
            opt.zero_grad(set_to_none=True)
            mixed.refresh()
            return
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if mode == "bf16" else contextlib.nullcontext()
        with ctx:
            out = model(ids[:, :-1])
            loss = F.cross_entropy(out.float().reshape(-1, c["vocab"]), ids[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()  # warm-up
    t = time.perf_counter()
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    wall = (time.perf_counter() - t) / steps
    # self time of leaf ops: every microsecond counted once
    ops = [(e.key, e.self_cpu_time_total) for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(t for _, t in ops)
    groups: dict[str, float] = {}
    for name, us in ops:
        groups[group(name)] = groups.get(group(name), 0.0) + us
    return {
        "mode": mode,
        "step_ms_profiled": round(wall * 1000, 1),
        "tokens_per_s_profiled": round(c["batch"] * (c["ctx"] - 1) / wall),
        "groups": {k: round(v / total, 3) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])},
        "top_ops": [
            {"op": n, "share": round(us / total, 3), "group": group(n)}
            for n, us in sorted(ops, key=lambda x: -x[1])[:top]
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="small")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--modes", default="fp32,bf16")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from common import machine

    result = {"machine": machine(), "config": args.config, "command": " ".join(["python", *sys.argv])}
    for mode in args.modes.split(","):
        r = profile(mode, args.config, args.steps, args.top)
        result[mode] = r
        print(f"\n{mode}: {r['step_ms_profiled']} ms/step (profiled), {r['tokens_per_s_profiled']:,} tokens/s")
        print("  " + ", ".join(f"{k} {v:.1%}" for k, v in r["groups"].items()))
        for op in r["top_ops"]:
            print(f"  {op['share']:6.1%}  {op['group']:<13} {op['op']}")
    print("\nISA:", result["machine"]["isa"], "threads", result["machine"]["threads"])
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
