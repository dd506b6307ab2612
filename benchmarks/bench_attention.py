"""What attention costs as the sequence grows (issue 16, items 1, 2, 4 and 6), one thread:

  1. peak extra memory and time of one causal attention call, forward + backward, batch 1, one head of
     d = 64, at 1K .. 16K tokens: eager (the formula), SDPA (PyTorch's fused CPU kernel), tiled (nn/tiled.py),
     sliding window (SDPA with the core's dense mask, and inside tiled), BigBird block-sparse (the core's dense
     mask); the target: tiled's extra memory at 16K <= 1/8 of the naive (T x T) fp32 score matrix
  2. per-token decoding time at 1K .. 32K tokens of context: softmax attention through its KV cache against
     linear attention through its recurrent state (a 2-layer decoder, d_model 64)
  3. a mixer layer's training step (forward + backward, d_model 128, 2 heads) against length: attention
     (SDPA), linear (chunked), Hyena (FFT); the crossover is the first length where a mixer is faster

  python benchmarks/bench_attention.py [--max-length 16384] [--max-context 32768] [--reps 3]

Times are CPU seconds of this process (the median of --reps calls after a warm-up); wall seconds are kept
beside them (the machine is shared, so wall time carries other jobs' load). Writes
benchmarks/results/attention.json and three figures next to it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import RESULTS, machine, write  # noqa: E402

from transformer_catalog.experiments import attention_cost as ac  # noqa: E402

BLOCK, WINDOW = 256, 256


def lengths_up_to(top: int, start: int = 1024) -> list[int]:
    out, n = [], start
    while n <= top:
        out.append(n)
        n *= 2
    return out


def sweep_attention(top: int, reps: int) -> dict:
    rows = {}
    for kind in ac.KINDS:
        warm = ac.attention_call(kind, 2 * BLOCK, block=BLOCK, window=WINDOW)
        for n in lengths_up_to(top):
            r = ac.measure(lambda: ac.attention_call(kind, n, block=BLOCK, window=WINDOW), reps, warm)
            rows.setdefault(kind, {})[n] = r
            print(f"{kind:>13} {n:>6}: {r['extra_mib']:8.1f} MiB  {r['cpu_seconds']:.3f} CPU s", flush=True)
    return rows


def sweep_decode(top: int, reps: int) -> dict:
    rows = {}
    for mixer in ("attention", "linear"):
        warm = ac.decode_step(mixer, 64)
        for n in lengths_up_to(top):
            r = ac.measure(lambda: ac.decode_step(mixer, n), reps, warm)
            rows.setdefault(mixer, {})[n] = r
            print(f"decode {mixer:>9} {n:>6}: {1000 * r['cpu_seconds']:.3f} CPU ms/token", flush=True)
    return rows


def sweep_mixers(top: int, reps: int) -> dict:
    rows = {}
    for mixer in ac.MIXERS:
        warm = ac.mixer_layer_call(mixer, 128)
        for n in lengths_up_to(top, 256):
            r = ac.measure(lambda: ac.mixer_layer_call(mixer, n), reps, warm)
            rows.setdefault(mixer, {})[n] = r
            print(f"layer {mixer:>9} {n:>6}: {r['cpu_seconds']:.3f} CPU s", flush=True)
    return rows


def crossover(rows: dict, mixer: str) -> int | None:
    """The first length from which the mixer's step is faster than attention's at every longer length."""
    lengths = sorted(rows["attention"])
    faster = [rows[mixer][n]["cpu_seconds"] < rows["attention"][n]["cpu_seconds"] for n in lengths]
    for i, n in enumerate(lengths):
        if all(faster[i:]):
            return n
    return None


def figures(result: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    att = result["attention"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4), dpi=100)
    for kind, rows in att.items():
        n = sorted(rows, key=int)
        a.plot([int(x) for x in n], [rows[x]["extra_mib"] for x in n], marker="o", label=kind)
        b.plot([int(x) for x in n], [rows[x]["cpu_seconds"] for x in n], marker="o", label=kind)
    top = max(int(x) for x in att["tiled"])
    a.axhline(result["naive_scores_mib"] / 8, color="grey", ls=":", lw=1, label=f"1/8 of the {top:,}-token scores")
    for ax, ylabel in ((a, "extra memory (MiB), forward + backward"), (b, "CPU seconds, forward + backward")):
        ax.set(xscale="log", yscale="log", xlabel="sequence length (tokens)", ylabel=ylabel)
        ax.set_xscale("log", base=2)
        ax.grid(alpha=0.3)
    a.legend(fontsize=7)
    a.set_title("peak extra memory, one head, d = 64")
    b.set_title("time (1 thread)")
    fig.tight_layout()
    names.append("attention_memory_time.png")
    fig.savefig(out / names[-1])
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for mixer, rows in result["decode"].items():
        n = sorted(rows, key=int)
        label = "softmax attention (KV cache)" if mixer == "attention" else "linear attention (recurrent state)"
        ax.plot([int(x) for x in n], [1000 * rows[x]["cpu_seconds"] for x in n], marker="o", label=label)
    ax.set(xlabel="context (tokens)", ylabel="CPU ms per decoded token", title="decoding one token after a context")
    ax.set_xscale("log", base=2)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    names.append("attention_decode.png")
    fig.savefig(out / names[-1])
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for mixer, rows in result["mixers"].items():
        n = sorted(rows, key=int)
        ax.plot([int(x) for x in n], [rows[x]["cpu_seconds"] for x in n], marker="o", label=mixer)
    ax.set(xlabel="sequence length (tokens)", ylabel="CPU seconds, forward + backward", title="one mixer layer")
    ax.set(xscale="log", yscale="log")
    ax.set_xscale("log", base=2)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    names.append("attention_crossover.png")
    fig.savefig(out / names[-1])
    plt.close(fig)
    return names


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--max-length", type=int, default=16384)
    p.add_argument("--max-context", type=int, default=32768)
    p.add_argument("--max-mixer-length", type=int, default=16384)
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = {
        "command": "python benchmarks/bench_attention.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "block": BLOCK,
        "window": WINDOW,
        "head_dim": 64,
        "naive_scores_mib": args.max_length**2 * 4 / 2**20,
        "attention": sweep_attention(args.max_length, args.reps),
        "decode": sweep_decode(args.max_context, max(args.reps, 5)),
        "mixers": sweep_mixers(args.max_mixer_length, args.reps),
    }
    result["crossover"] = {m: crossover(result["mixers"], m) for m in ("linear", "hyena")}
    tiled = result["attention"]["tiled"][args.max_length]["extra_mib"]
    result["tiled_extra_share_of_scores"] = tiled / result["naive_scores_mib"]
    result["tiled_target_met"] = tiled <= result["naive_scores_mib"] / 8
    # the children's CPU time: each measurement ran in a forked process
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["cpu_seconds"] = round(time.process_time() - cpu0 + children.ru_utime + children.ru_stime, 1)
    result["wall_seconds"] = round(time.perf_counter() - wall0, 1)
    result["figures"] = figures(result, RESULTS)
    print(write("attention", result))


if __name__ == "__main__":
    main()
