"""Training throughput of the paper's encoder-decoder: tcat vs peers, same dims, same batches.

  python benchmarks/bench_seq2seq_train.py [--threads 1] [--rounds 3]

Peers, measured interleaved in one run: tcat (shared core), a nanoGPT-style plain SDPA model
(benchmarks/nanogpt_seq2seq.py) and torch.nn.Transformer with the same embeddings and head.
Tokens/s counts source + target tokens of one Adam step (forward, backward, update), fp32. One
untimed round runs first so that no peer pays for warming the allocator and kernel caches.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from common import interleaved, machine, median, timed, write  # noqa: E402
from nanogpt_seq2seq import Seq2Seq  # noqa: E402

from transformer_catalog.families import get_config  # noqa: E402
from transformer_catalog.nn import build_model  # noqa: E402


class TorchTransformer(torch.nn.Module):
    def __init__(self, vocab, d, h, ff, n):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, d)
        self.core = torch.nn.Transformer(d, h, n, n, ff, dropout=0.0, batch_first=True)
        self.register_buffer("mask", torch.nn.Transformer.generate_square_subsequent_mask(512), persistent=False)

    def forward(self, src, tgt):
        T = tgt.size(1)
        y = self.core(self.emb(src), self.emb(tgt), tgt_mask=self.mask[:T, :T], tgt_is_causal=True)
        return F.linear(y, self.emb.weight)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="transformer-small")
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--len", type=int, default=48)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    cfg = get_config(args.config, vocab_size=args.vocab, dropout=0.0)
    d, h, ff, n = cfg.d_model, cfg.attention.n_heads, cfg.ffn.d_ff, cfg.n_encoder_layers
    models = {
        "tcat": build_model(cfg),
        "nanogpt-style": Seq2Seq(args.vocab, d, h, ff, n),
        "torch.nn.Transformer": TorchTransformer(args.vocab, d, h, ff, n),
    }
    params = {k: sum(p.numel() for p in m.parameters()) for k, m in models.items()}
    src = torch.randint(4, args.vocab, (args.batch, args.len))
    tgt = torch.randint(4, args.vocab, (args.batch, args.len + 1))
    tokens = args.batch * (2 * args.len)

    def run_one(model):
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)

        def step():
            logits = model(src, tgt[:, :-1])
            F.cross_entropy(logits.view(-1, args.vocab), tgt[:, 1:].reshape(-1)).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        return tokens / timed(step, warmup=2, iters=args.iters)

    interleaved(models, run_one, 1)  # one untimed round: allocator and kernel caches warm for every peer
    rates = interleaved(models, run_one, args.rounds)
    med = {k: median(v) for k, v in rates.items()}
    result = {
        "benchmark": "seq2seq_train",
        "command": "python benchmarks/bench_seq2seq_train.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "config": args.config,
        "vocab": args.vocab,
        "batch": args.batch,
        "len": args.len,
        "dtype": "fp32",
        "params": params,
        "tokens_per_s": {k: round(v, 1) for k, v in med.items()},
        "rounds": {k: [round(x, 1) for x in v] for k, v in rates.items()},
        "ratio_tcat_over": {k: round(med["tcat"] / v, 3) for k, v in med.items() if k != "tcat"},
    }
    print(write("seq2seq_train", result))
    for k, v in med.items():
        print(f"{k:22s} {params[k] / 1e6:6.2f}M params  {v:8.0f} tok/s")


if __name__ == "__main__":
    main()
