"""Induction heads on text (Olsson et al. 2022): the induction-heads experiment's attention-only
models, scores, ablation and patching (induction_heads.py, imported, not copied), trained on King
James Bible text instead of random tokens. Each training sequence is a passage of consecutive
BPE tokens followed by its repeat, [P P Q Q R ...] cut at the context, with passage lengths drawn
from min_span .. seq_len // 2; passages come from the training chapters, every probe from held-out
chapters (every 20th, data/corpora.split), so the repeat is the only way to predict a copy better
than the language's own statistics allow. The lengths vary for the reason induction_heads.py's
spans do: trained on fixed halves [P, P] only (tried first), the one-layer control reached induction
score 0.94, and 0.69 on repeated random tokens, where one layer can only use the fixed offset (the
copy always 32 back, found through the learned positions) and not a match of tokens.

Text differs from random tokens in that words recur inside a passage ("the", "and", "of"), so the
token after an earlier occurrence is ambiguous for them; the induction score is measured exactly as
on random tokens (attention from each repeated token to the token after its earlier occurrence)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from ..errors import TcatError
from . import induction_heads as ih
from .base import Clock, finish, prepare, state_miss

NAME = "induction-text"
CLAIM = (
    "A two-layer attention-only transformer trained on King James Bible passages followed by their repeat "
    "forms an induction head (induction score >= 0.8 on repeated held-out passages) in a phase change, and "
    "zeroing the found heads removes most of the in-context gain on the repeated half."
)
CONTROL = (
    "A one-layer model, same text and budget: one layer cannot compose a previous-token head with a "
    "prefix-matching head, so no head reaches induction score 0.8."
)
# Induction heads on text need thousands of steps: the tiny run checks the pipeline's parts
# (tests/test_induction_text.py); only the full setting's verdict counts.
TINY_SHOWS_CLAIM_NOT = "a few hundred steps on the in-repo sample form no induction head on text"


@dataclass
class Config:
    setting: str = "full"
    data: str = "kjv"  # data/corpora.py: chapters of verses (Debian sword-text-kjv)
    vocab: int = 512  # byte-level BPE trained on the training chapters
    seq_len: int = 64  # training: passages and their repeats; probes: a passage of seq_len // 2 and its repeat
    min_span: int = 8  # training passages are min_span .. seq_len // 2 tokens long
    position: str = "learned"
    d_model: int = 64
    heads: int = 4
    steps: int = 3000  # text's phase change comes later than random tokens': at 2000 steps it was mid-way (0.68)
    batch: int = 32
    lr: float = 3e-3
    warmup: int = 50
    eval_every: int = 50
    eval_batch: int = 64
    early_token: int = 6  # the in-context-learning score: loss at late_token minus loss at early_token
    late_token: int = 60
    seed: int = 0

    @classmethod
    def tiny(cls) -> Config:
        # the in-repo sample (29 chapters), half the width: seconds, for the tests
        return cls(
            setting="tiny", data="bible-sample", vocab=384, d_model=32, heads=2, steps=300, lr=1e-2,
            eval_every=100, eval_batch=16,
        )  # fmt: skip


# -- data --------------------------------------------------------------------------------------------------
def token_streams(cfg: Config):
    """(train ids, held-out ids) as 1-D tensors: each split's chapters tokenized and concatenated; the
    BPE vocabulary is learned on the training chapters only."""
    import torch

    from ..data.corpora import load_documents, split
    from ..data.tokenizer import train_bpe

    train_docs, valid_docs = split(load_documents(cfg.data), source=cfg.data)
    train_text = [" ".join(doc) for doc in train_docs]
    tok = train_bpe(train_text, cfg.vocab)
    streams = []
    for texts in (train_text, [" ".join(doc) for doc in valid_docs]):
        ids = [i for ids in tok.encode_batch(texts) for i in ids]
        streams.append(torch.tensor(ids, dtype=torch.long))
    return streams[0], streams[1], tok


def windows(stream, n: int, length: int, generator):
    """n windows of `length` consecutive tokens at random offsets of `stream`: (n, length)."""
    import torch

    if stream.numel() <= length:
        raise ValueError(f"a stream of {stream.numel()} tokens is too short for windows of {length}")
    start = torch.randint(stream.numel() - length, (n, 1), generator=generator)
    return stream[start + torch.arange(length)]


def repeated_text_spans(stream, n: int, seq_len: int, min_span: int, generator):
    """n rows of passages each followed by its repeat ([P P Q Q ...], cut at seq_len), passage lengths
    drawn from min_span .. seq_len // 2 (induction_heads.repeated_spans, with text for random tokens)."""
    import torch

    x = torch.empty(n, seq_len, dtype=torch.long)
    for row in x:
        pos = 0
        while pos < seq_len:
            length = int(torch.randint(min_span, seq_len // 2 + 1, (1,), generator=generator))
            span = windows(stream, 1, length, generator)[0]
            pair = torch.cat([span, span])[: seq_len - pos]
            row[pos : pos + len(pair)] = pair
            pos += len(pair)
    return x


def repeated_passages(stream, n: int, half: int, generator):
    """(passages, [P, P]): n passages of `half` tokens, each followed by itself."""
    import torch

    p = windows(stream, n, half, generator)
    return p, torch.cat([p, p], dim=1)


def unique_token_induction(model, layers: int, ids, half: int) -> tuple[list[list[float]], float]:
    """(per layer and head: the induction score over only the repeated-half tokens that occur once in
    their passage, where "the token after its earlier occurrence" is unambiguous; their share)."""
    import torch

    from ..nn.hooks import run_with_cache

    names = ih.pattern_names(layers)
    with torch.no_grad():
        _, cache = run_with_cache(model, ids, names=names)
    first = ids[:, :half]
    once = (first[:, :, None] == first[:, None, :]).sum(-1) == 1  # (batch, half)
    rows, k = torch.nonzero(once, as_tuple=True)
    return [cache[n][rows, :, half + k, k + 1].mean(0).tolist() for n in names], float(once.float().mean())


def miss(metrics: dict, curve: list[dict]) -> str:
    """By how much and (from the measured diagnostics) why the claim missed; empty when it holds."""
    failed = []
    if metrics["best_induction_2l"] < ih.TARGET_SCORE:
        peak = max(curve, key=lambda r: r["induction"])
        failed.append(
            f"the best 2-layer head's induction score is {metrics['best_induction_2l']:.2f} < {ih.TARGET_SCORE} "
            f"(peak {peak['induction']:.2f} at step {peak['step']}, flat after). On text a token can recur inside "
            f"its passage, and the score counts only the token after its copy: on the "
            f"{metrics['unique_token_share']:.0%} of repeated tokens that occur once in their passage the same "
            f"head scores {metrics['best_induction_2l_unique_tokens']:.2f}"
        )
    if metrics["gain_removed_by_ablation"] < ih.TARGET_REMOVED:
        failed.append(f"zeroing the found heads removes {metrics['gain_removed_by_ablation']:.0%} of the gain")
    return "; ".join(failed) + ("." if failed else "")


# -- training (induction_heads.train samples random tokens; this loop samples passages) --------------------
def train(cfg: Config, layers: int, probe: dict, stream) -> dict:
    """AdamW on fresh [P, P] batches each step; loss, best scores and ICL score every eval_every steps."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(cfg.seed)
    model = ih.build(cfg, layers)
    data = torch.Generator().manual_seed(cfg.seed + 1)  # both models see the same batches
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / cfg.warmup))
    curve = []
    for step in range(cfg.steps + 1):
        if step % cfg.eval_every == 0 or step == cfg.steps:
            model.eval()
            scores = ih.head_scores(model, layers, probe)
            losses = ih.position_loss(model, probe["spans"])
            curve.append(
                {
                    "step": step,
                    "loss": float(losses.mean()),
                    "icl_score": ih.icl_score(losses, cfg.early_token - 1, cfg.late_token - 1),
                    "induction": max(max(row) for row in scores["induction"]),
                    "prefix_matching": max(max(row) for row in scores["prefix_matching"]),
                }
            )
            model.train()
        if step == cfg.steps:
            break
        ids = repeated_text_spans(stream, cfg.batch, cfg.seq_len, cfg.min_span, data)
        logits = model(ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, cfg.vocab), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    return {"model": model, "curve": curve, "scores": ih.head_scores(model, layers, probe)}


def run(cfg: Config, out) -> dict:
    import torch

    from ..files import write_json

    out = prepare(out)
    clock = Clock()
    train_ids, valid_ids, tok = token_streams(cfg)
    if tok.vocab_size > cfg.vocab:
        raise TcatError(f"induction-text: vocab={cfg.vocab} is below the tokenizer's {tok.vocab_size} entries")
    g = torch.Generator().manual_seed(cfg.seed + 2)
    half = cfg.seq_len // 2
    clean_first, repeated = repeated_passages(valid_ids, cfg.eval_batch, half, g)
    corrupt_first = windows(valid_ids, cfg.eval_batch, half, g)  # another held-out passage
    natural = windows(valid_ids, cfg.eval_batch, cfg.seq_len, g)  # plain text: words recur by chance only
    spans = repeated_text_spans(valid_ids, cfg.eval_batch, cfg.seq_len, cfg.min_span, g)
    # "repeated" [P, P] gives the induction score, "spans" (training's layout) the loss curve and ICL
    # score, and "random" (prefix matching) is plain text, where words recur by chance only
    probe = {"repeated": repeated, "random": natural, "spans": spans}
    one, two = train(cfg, 1, probe, train_ids), train(cfg, 2, probe, train_ids)
    scores = two["scores"]["induction"]
    ranked = sorted(((i, h) for i in range(2) for h in range(cfg.heads)), key=lambda lh: -scores[lh[0]][lh[1]])
    found = [lh for lh in ranked if scores[lh[0]][lh[1]] >= ih.TARGET_SCORE / 2][: ih.MAX_HEADS] or ranked[:1]
    gain = ih.in_context_gain(two["model"], repeated, half)
    ablated_gain = ih.in_context_gain(two["model"], repeated, half, found)
    gain_1l = ih.in_context_gain(one["model"], repeated, half)
    patched = ih.patching(two["model"], 2, clean_first, corrupt_first, ranked)
    enough = next((k + 1 for k, r in enumerate(patched["top"]) if r >= ih.TARGET_RESTORED), None)
    # the same heads on repeated random tokens: an induction head copies whatever came before
    _, rnd = ih.repeated_halves(cfg.eval_batch, half, cfg.vocab, g)
    on_random = {
        k: ih.head_scores(m["model"], n, {**probe, "repeated": rnd}) for k, m, n in (("1l", one, 1), ("2l", two, 2))
    }
    natural_icl = {k: ih.icl_score(ih.position_loss(m["model"], natural), cfg.early_token - 1, cfg.late_token - 1)
                   for k, m in (("1l", one), ("2l", two))}  # fmt: skip
    unique, unique_share = unique_token_induction(two["model"], 2, repeated, half)
    figure = ih._figure(cfg, one, two, out)  # the induction-heads figure, drawn from these runs
    (out / figure).replace(out / "induction-text.png")
    curves = {"one_layer": one["curve"], "two_layer": two["curve"], "patching": patched}
    curves["scores"] = {"one_layer": one["scores"], "two_layer": two["scores"]}
    write_json(out / "curves.json", curves)
    best_2l = max(max(row) for row in scores)
    best_1l = max(max(row) for row in one["scores"]["induction"])
    jump = next((r["step"] for r in two["curve"] if r["induction"] >= ih.TARGET_SCORE), None)
    removed = 1 - ablated_gain / gain if gain > 0 else 0.0
    last1, last2 = one["curve"][-1], two["curve"][-1]
    results = finish(
        out,
        sys.modules[__name__],
        cfg,
        clock,
        criterion=(
            f"2-layer: a head with induction score >= {ih.TARGET_SCORE} on repeated held-out passages; zeroing "
            f"the heads scoring >= {ih.TARGET_SCORE / 2} (at most {ih.MAX_HEADS}) removes >= "
            f"{ih.TARGET_REMOVED:.0%} of the in-context gain. 1-layer control: no head reaches {ih.TARGET_SCORE}"
        ),
        metrics={
            "best_induction_2l": best_2l,
            "best_induction_1l": best_1l,
            "best_induction_head_2l": "L{}H{}".format(*ranked[0]),
            "best_induction_2l_unique_tokens": unique[ranked[0][0]][ranked[0][1]],
            "unique_token_share": unique_share,
            "best_induction_on_random_tokens_2l": max(max(row) for row in on_random["2l"]["induction"]),
            "best_induction_on_random_tokens_1l": max(max(row) for row in on_random["1l"]["induction"]),
            "best_prefix_matching_2l": max(max(row) for row in two["scores"]["prefix_matching"]),
            "best_prefix_matching_1l": max(max(row) for row in one["scores"]["prefix_matching"]),
            "best_previous_token_2l_layer0": max(two["scores"]["previous_token"][0]),
            "step_induction_reached": jump,
            "icl_score_2l": last2["icl_score"],
            "icl_score_1l": last1["icl_score"],
            "icl_score_natural_text_2l": natural_icl["2l"],
            "icl_score_natural_text_1l": natural_icl["1l"],
            "icl_tokens": f"{cfg.late_token} - {cfg.early_token} of {cfg.seq_len}",
            "loss_2l": last2["loss"],
            "loss_1l": last1["loss"],
            "in_context_gain_2l": gain,
            "in_context_gain_1l": gain_1l,
            "ablated_heads": ", ".join("L{}H{}".format(*lh) for lh in found),
            "ablated_in_context_gain_2l": ablated_gain,
            "gain_removed_by_ablation": removed,
            "logit_diff_clean": patched["clean"],
            "logit_diff_corrupted": patched["corrupted"],
            "restored_by_top_heads": patched["top"][-1] if enough is None else patched["top"][enough - 1],
            "heads_patched": enough if enough is not None else len(patched["top"]),
            "train_tokens_available": int(train_ids.numel()),
            "tokenizer_vocab": tok.vocab_size,
        },
        claim_holds=best_2l >= ih.TARGET_SCORE and removed >= ih.TARGET_REMOVED,
        control_fails=best_1l < ih.TARGET_SCORE,
        figures=["induction-text.png"],
    )
    return state_miss(out, results, miss(results["metrics"], two["curve"]))
