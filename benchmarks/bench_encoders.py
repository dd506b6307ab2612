"""Encoder and encoder-decoder speed: BERT-base inference and T5-small training, tcat against
Hugging Face transformers and x-transformers, identical dimensions, interleaved in one run.

  python benchmarks/bench_encoders.py [--threads 1] [--rounds 3] [--only bert,t5]

BERT-base: tokens/s of a no-grad forward over 8 sequences of 128 tokens (fp32 and bf16 autocast).
tcat's config is converted from the Hugging Face config (families/bert.py), so the dimensions are the
same by construction. T5-small: tokens/s (source + target) of one AdamW step over 8 pairs of 128 + 128
tokens, fp32, against HF T5ForConditionalGeneration and x-transformers' XTransformer (absolute
positions: its T5-style relative bias is an option, not its default, so that row is not identical in
position scheme). Dropout is 0 everywhere: what is timed is the model, not a random mask.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from common import interleaved, machine, median, write  # noqa: E402

from transformer_catalog.nn import build_model  # noqa: E402

BATCH, SEQ = 8, 128


def bert_peers() -> dict:
    import transformers

    from transformer_catalog.families import bert

    hf_cfg = transformers.BertConfig(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)  # BERT-base
    hf_cfg._attn_implementation = "sdpa"
    peers = {
        "tcat": build_model(bert.config_from_hf(hf_cfg.to_dict())),
        "hf": transformers.BertModel(hf_cfg, add_pooling_layer=False),
    }
    try:
        from x_transformers import Encoder, TransformerWrapper

        peers["x-transformers"] = TransformerWrapper(
            num_tokens=hf_cfg.vocab_size,
            max_seq_len=512,
            return_only_embed=False,
            attn_layers=Encoder(dim=768, depth=12, heads=12, ff_mult=4),
        )
    except ImportError:
        pass
    return peers


@torch.no_grad()
def encode_rate(name, model, ids, dtype) -> float:
    model.eval()
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if dtype == "bf16" else contextlib.nullcontext()
    t = time.perf_counter()
    with ctx:
        if name == "x-transformers":
            model(ids, return_embeddings=True)
        else:
            model(ids)
    return ids.numel() / (time.perf_counter() - t)


def t5_peers() -> dict:
    import transformers

    from transformer_catalog.families import t5

    hf_cfg = transformers.T5Config(
        d_model=512, d_ff=2048, num_layers=6, num_heads=8, d_kv=64, dropout_rate=0.0
    )  # t5-small
    peers = {
        "tcat": build_model(t5.config_from_hf(hf_cfg.to_dict())),
        "hf": transformers.T5ForConditionalGeneration(hf_cfg),
    }
    try:
        from x_transformers import XTransformer

        peers["x-transformers"] = XTransformer(
            dim=512,
            enc_num_tokens=hf_cfg.vocab_size,
            enc_depth=6,
            enc_heads=8,
            enc_max_seq_len=SEQ,
            dec_num_tokens=hf_cfg.vocab_size,
            dec_depth=6,
            dec_heads=8,
            dec_max_seq_len=SEQ + 1,
            tie_token_emb=True,
        )
    except ImportError:
        pass
    return peers


def seq2seq_train_rate(name, model, src, tgt, opt) -> float:
    model.train()
    t = time.perf_counter()
    if name == "x-transformers":
        loss = model(src, tgt)  # it shifts the target itself: SEQ inputs, SEQ predictions
    else:
        out = model(src, tgt[:, :-1]) if name == "tcat" else model(input_ids=src, decoder_input_ids=tgt[:, :-1]).logits
        loss = F.cross_entropy(out.float().reshape(-1, out.size(-1)), tgt[:, 1:].reshape(-1))
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return (src.numel() + tgt.numel()) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="bert,t5")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    result = {
        "benchmark": "encoders",
        "machine": machine(),
        "rounds": args.rounds,
        "batch": BATCH,
        "seq": SEQ,
        "command": "python benchmarks/bench_encoders.py " + " ".join(sys.argv[1:]),
    }
    if "bert" in args.only:
        peers = bert_peers()
        ids = torch.randint(0, 30522, (BATCH, SEQ))
        result["bert_base_params"] = {n: sum(p.numel() for p in m.parameters()) for n, m in peers.items()}
        result["bert_base_inference_tokens_per_s"] = {}
        for dtype in ("fp32", "bf16"):
            for name, model in peers.items():
                encode_rate(name, model, ids, dtype)  # warm-up
            rounds = interleaved({n: n for n in peers}, lambda n: encode_rate(n, peers[n], ids, dtype), args.rounds)
            result["bert_base_inference_tokens_per_s"][dtype] = {n: round(median(r), 1) for n, r in rounds.items()}
            print("bert", dtype, result["bert_base_inference_tokens_per_s"][dtype], flush=True)
        del peers
    if "t5" in args.only:
        peers = t5_peers()
        src, tgt = torch.randint(1, 32128, (BATCH, SEQ)), torch.randint(1, 32128, (BATCH, SEQ + 1))
        opts = {n: torch.optim.AdamW(m.parameters(), lr=1e-4) for n, m in peers.items()}
        result["t5_small_params"] = {n: sum(p.numel() for p in m.parameters()) for n, m in peers.items()}
        for name, model in peers.items():
            seq2seq_train_rate(name, model, src, tgt, opts[name])  # warm-up
        rounds = interleaved(
            {n: n for n in peers}, lambda n: seq2seq_train_rate(n, peers[n], src, tgt, opts[n]), args.rounds
        )
        result["t5_small_train_tokens_per_s"] = {"fp32": {n: round(median(r), 1) for n, r in rounds.items()}}
        print("t5", result["t5_small_train_tokens_per_s"], flush=True)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(write("encoders", result))


if __name__ == "__main__":
    main()
