"""bf16 against fp32 training, same run otherwise: a GPT trained on the King James Bible (causal LM)
through tcat's Trainer twice from the same initialisation and batch order, once in fp32 and once
with --bf16 (bf16 compute copy, fp32 master weights: train/precision.py). Records both loss curves
(training every 10 steps, held-out every --eval-every), tokens/s and CPU seconds, and draws them.

  python benchmarks/bench_bf16_curve.py [--steps 150] [--threads 1] [--d-model 256] [--layers 4]

Written to benchmarks/results/bf16_curve.json and bf16_curve.png.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import RESULTS, machine, write  # noqa: E402

from transformer_catalog.families import family  # noqa: E402
from transformer_catalog.nn import build_model  # noqa: E402
from transformer_catalog.train.tasks import make_objective_task  # noqa: E402
from transformer_catalog.train.trainer import TrainConfig, Trainer  # noqa: E402


def run(task, args, bf16: bool, folder: Path) -> dict:
    cfg = family("gpt2").config(
        n_layer=args.layers,
        n_embd=args.d_model,
        n_head=args.d_model // 64,
        n_positions=args.ctx,
        vocab_size=task.vocab_size,
        resid_pdrop=0.0,
    )
    torch.manual_seed(0)
    model = build_model(cfg.replace(**{"attention.dropout": 0.0, "embedding.pad_id": task.pad_id}))
    tc = TrainConfig(
        steps=args.steps,
        optimizer="adamw",
        schedule="cosine",
        lr=args.lr,
        warmup=args.steps // 10,
        max_tokens=args.batch * args.ctx,
        eval_every=args.eval_every,
        save_every=0,
        bf16=bf16,
    )
    trainer = Trainer(model, task, tc, folder, progress=False)
    cpu, wall = time.process_time(), time.perf_counter()
    state = trainer.fit()
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return {
        "train": [[r["step"], r["loss"]] for r in rows if "loss" in r],
        "valid": [[r["step"], r["valid_loss"]] for r in rows if "valid_loss" in r],
        "tokens_per_s": round(state["tokens"] / state["elapsed"], 1),
        "cpu_s": round(time.process_time() - cpu, 1),
        "wall_s": round(time.perf_counter() - wall, 1),
        "params": sum(p.numel() for p in model.parameters()),
    }


def plot(result: dict, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for mode, colour in (("fp32", "#4e79a7"), ("bf16", "#e15759")):
        r = result["runs"][mode]
        ax.plot(*zip(*r["train"], strict=True), color=colour, alpha=0.6, label=f"{mode} train")
        ax.plot(*zip(*r["valid"], strict=True), "o-", color=colour, label=f"{mode} held-out")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    png.write_bytes(buf.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--ctx", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--data", default="kjv")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    task = make_objective_task("clm", args.data, vocab_size=args.vocab, max_len=args.ctx)
    result = {
        "benchmark": "bf16 curve",
        "machine": machine(),
        "data": args.data,
        "settings": {k: v for k, v in vars(args).items() if k != "threads"},
        "runs": {},
        "command": "python benchmarks/bench_bf16_curve.py " + " ".join(sys.argv[1:]),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("fp32", "bf16"):
            result["runs"][mode] = run(task, args, mode == "bf16", Path(tmp) / mode)
            print(mode, {k: v for k, v in result["runs"][mode].items() if k not in ("train", "valid")}, flush=True)
    fp32, bf16 = result["runs"]["fp32"], result["runs"]["bf16"]
    result["max_abs_train_diff"] = round(max(abs(a[1] - b[1]) for a, b in zip(fp32["train"], bf16["train"])), 4)
    result["final_valid"] = {"fp32": fp32["valid"][-1][1], "bf16": bf16["valid"][-1][1]}
    result["valid_diff"] = round(bf16["valid"][-1][1] - fp32["valid"][-1][1], 4)
    result["speedup"] = round(bf16["tokens_per_s"] / fp32["tokens_per_s"], 3)
    RESULTS.mkdir(exist_ok=True)
    plot(result, RESULTS / "bf16_curve.png")
    print(write("bf16_curve", result))


if __name__ == "__main__":
    main()
