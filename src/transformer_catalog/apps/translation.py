"""Evaluate a translation checkpoint on held-out books: sacreBLEU and chrF, beside the
copy-the-source baseline (what a system that translates nothing would score)."""

from __future__ import annotations

import json
import time

import torch

from ..errors import TcatError


def translate_batch(
    model, tok, texts: list[str], beam: int, alpha: float, max_new_tokens: int = 0, no_repeat_ngram: int = 0
) -> list[str]:
    from ..data.batching import pad
    from ..generate import beam_search, generate, strip_after_eos

    limit = model.config.position.max_len
    srcs = [(tok.encode(t) + [tok.eos_id])[:limit] for t in texts]
    src = pad(srcs, tok.pad_id)
    start = torch.full((len(texts), 1), tok.bos_id)
    # Paper, section 6.1: maximum output length = input length + 50.
    max_new = max_new_tokens or min(limit, src.size(1) + 50)
    if beam > 1:
        outs = beam_search(
            model, start, max_new, beam, alpha, src=src, eos_id=tok.eos_id, no_repeat_ngram=no_repeat_ngram
        )
    else:
        outs = generate(model, start, max_new, src=src, eos_id=tok.eos_id, no_repeat_ngram=no_repeat_ngram).tolist()
    return [tok.decode(strip_after_eos(ids, tok.eos_id)) for ids in outs]


def evaluate_translation(
    checkpoint, data=None, split="test", beam=4, alpha=0.6, limit=0, batch_size=16, progress=True, no_repeat_ngram=0
) -> dict:
    """Scores and every hypothesis ("hypotheses", in the order of the pairs), so a caller can
    check each translation without decoding again."""
    import sacrebleu

    from ..data.parallel import split_parallel
    from ..train.checkpoint import load_model

    model, meta, tok = load_model(checkpoint)
    if tok is None or model.config.arch != "encoder-decoder":
        raise TcatError(f"{checkpoint}: not a translation checkpoint (needs an encoder-decoder with a tokenizer)")
    data = data or meta.get("task", {}).get("data") or "bible-en-es"
    pairs = split_parallel(data)[split]
    if limit:
        pairs = pairs[:limit]
    if not pairs:
        raise TcatError(f"{data}: the {split} split is empty")
    # Sort by length so batches pad little; restore the order afterwards.
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i].src))
    hyps = [""] * len(pairs)
    t0 = time.perf_counter()
    from rich.progress import Progress

    with Progress(disable=not progress) as bar:
        task = bar.add_task(f"translating {len(pairs)} {split} verses", total=len(pairs))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            texts = [pairs[i].src for i in idx]
            for i, h in zip(idx, translate_batch(model, tok, texts, beam, alpha, no_repeat_ngram=no_repeat_ngram)):
                hyps[i] = h
            bar.advance(task, len(idx))
    refs = [p.tgt for p in pairs]
    srcs = [p.src for p in pairs]
    cfg = model.config
    from ..train.checkpoint import resolve

    state_file = resolve(checkpoint) / "trainer_state.json"
    training = json.loads(state_file.read_text()) if state_file.is_file() else {}
    training.pop("optimizer_param_groups", None)
    return {
        "model": {
            "params": sum(p.numel() for p in model.parameters()),
            "d_model": cfg.d_model,
            "layers": [cfg.n_encoder_layers, cfg.n_decoder_layers],
            "heads": cfg.attention.n_heads,
            "d_ff": cfg.ffn.d_ff,
            "vocab": cfg.embedding.vocab_size,
            "norm": cfg.norm.placement,
        },
        "training": training,
        "data": data,
        "split": split,
        "pairs": len(pairs),
        "books": sorted({p.book for p in pairs}),
        "beam": beam,
        "alpha": alpha,
        "no_repeat_ngram": no_repeat_ngram,
        "bleu": round(sacrebleu.corpus_bleu(hyps, [refs]).score, 2),
        "chrf": round(sacrebleu.corpus_chrf(hyps, [refs]).score, 2),
        "copy_source_bleu": round(sacrebleu.corpus_bleu(srcs, [refs]).score, 2),
        "copy_source_chrf": round(sacrebleu.corpus_chrf(srcs, [refs]).score, 2),
        "decode_seconds": round(time.perf_counter() - t0, 1),
        "examples": [
            {"ref": p.ref, "source": p.src, "reference": p.tgt, "hypothesis": h} for p, h in list(zip(pairs, hyps))[:5]
        ],
        "hypotheses": hyps,
    }
